"""What a team's folder keeps of its batch: read back as written; a damaged file is no record."""

from __future__ import annotations

from agentjobs.jobs.team_batch import (
    ANSWER_FILE,
    SUBMISSION_FILE,
    Submission,
    TeamAnswer,
    read_answer,
    read_submission,
    write_answer,
    write_submission,
)


def test_a_submission_and_an_answer_read_back_as_written(tmp_path):
    submission = Submission("batch-1", "file-1", "north-abc", "0" * 64)
    write_submission(tmp_path, submission)
    assert read_submission(tmp_path) == submission
    answer = TeamAnswer(
        "batch-1", "completed", "answered", completion={"choices": [{"message": {"content": "{}"}}]}
    )
    write_answer(tmp_path, answer)
    assert read_answer(tmp_path) == answer


def test_no_file_or_a_damaged_one_is_no_record(tmp_path):
    assert read_submission(tmp_path) is None and read_answer(tmp_path) is None
    (tmp_path / SUBMISSION_FILE).write_text("{not json")
    (tmp_path / ANSWER_FILE).write_text('{"batch_id": "b", "surprise": 1}')
    assert read_submission(tmp_path) is None and read_answer(tmp_path) is None
    (tmp_path / SUBMISSION_FILE).write_text("[1, 2]")
    assert read_submission(tmp_path) is None
