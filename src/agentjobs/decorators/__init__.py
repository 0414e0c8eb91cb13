"""TaskFlow decorators: ``@task.agentjobs`` (registered through the provider's task decorators)."""
