"""The day's items as the web pages an agentic-fetch agent would read: synthetic but shaped like
the real ones.

A GitHub commits page (`/{owner}/{repo}/commits/main`) carries, around its list of commits,
what every page of the site carries: a head full of meta tags and stylesheets, an inline
style block, a site header and repository navigation, an octicon SVG per button, the
React app's embedded JSON payload (the same commits again, with every field) and a footer.
The news front page has a header, navigation, a story list with teasers, ad slots and an
analytics script. Both are rendered from `digest_day`, so they hold exactly the day's items;
their sizes are printed in the benchmark's note. Nothing here is a copy of a real page.
"""

from __future__ import annotations

import json
from html import escape
from html.parser import HTMLParser

from bench.support import digest_day

_OCTICON = (
    '<svg aria-hidden="true" focusable="false" class="octicon octicon-{name}" viewBox="0 0 16 16" '
    'width="16" height="16" fill="currentColor" display="inline-block" overflow="visible" '
    'style="vertical-align:text-bottom"><path d="M0 1.75C0 .784.784 0 1.75 0h12.5C15.216 0 16 '
    ".784 16 1.75v9.5A1.75 1.75 0 0 1 14.25 13H8.06l-2.573 2.573A1.458 1.458 0 0 1 3 14.543V13H1.75A1.75 "
    "1.75 0 0 1 0 11.25Zm1.75-.25a.25.25 0 0 0-.25.25v9.5c0"
    " .138.112.25.25.25h2a.75.75 0 0 1 .75.75v2.19l2.72-"
    '2.72a.749.749 0 0 1 .53-.22h6.5a.25.25 0 0 0 .25-.25v-9.5a.25.25 0 0 0-.25-.25Z"></path></svg>'
)


def _icon(name: str) -> str:
    return _OCTICON.format(name=name)


def _css(prefix: str, rules: int) -> str:
    """An inline style block of the size real pages inline for their first paint."""
    lines = []
    for n in range(rules):
        lines.append(
            f".{prefix}-c{n}{{display:flex;align-items:center;"
            f"padding:var(--base-size-{4 * (n % 6)},{n % 9}px) "
            f"var(--base-size-8,8px);color:var(--fgColor-{('default', 'muted', 'accent')[n % 3]});"
            f"border-bottom:var(--borderWidth-thin,1px) solid var(--borderColor-default,#d1d9e0)}}"
        )
        if n % 5 == 0:
            lines.append(
                f"@media (min-width:{544 + 24 * (n % 20)}px){{.{prefix}-c{n}{{flex-direction:row}}}}"
            )
    return "<style>" + "".join(lines) + "</style>"


def _head(title: str, site: str, styles: int, scripts: int) -> str:
    metas = "".join(
        f'<meta name="{name}" content="{escape(value)}">'
        for name, value in (
            ("viewport", "width=device-width"),
            ("description", f"{title} on {site}"),
            ("theme-color", "#1e2327"),
            ("color-scheme", "light dark"),
            ("request-id", "C5B2:3A7E1F:9A1B2C:9D3E4F:6745A1B2"),
            ("html-safe-nonce", "7d0c5f2a9b8e4f1c6a3d2e5b8c9f0a1d2e3f4a5b6c7d8e9f"),
            (
                "visitor-payload",
                "eyJyZWZlcnJlciI6IiIsInJlcXVlc3RfaWQiOiJDNUIyOjNBN0UxRiIsInZpc2l0b3JfaWQiOiIx",
            ),
            ("hovercard-subject-tag", "repository:33884891"),
            ("octolytics-url", "https://collector.example/github/collect"),
            ("analytics-location", "/<user-name>/<repo-name>/commits/show"),
            ("turbo-cache-control", "no-preview"),
            ("go-import", "github.com/apache/airflow git https://github.com/apache/airflow.git"),
        )
    )
    og = "".join(
        f'<meta property="og:{name}" content="{escape(value)}">'
        for name, value in (("title", title), ("site_name", site), ("type", "object"), ("image", "/og.png"))
    )
    links = "".join(
        f'<link crossorigin="anonymous" media="all" rel="stylesheet" href="/assets/{name}-{n:04x}a1b2c3.css">'
        for n, name in enumerate(
            ["light", "dark", "primer-primitives", "primer", "global", "github", "repository"]
        )
    )
    script_tags = "".join(
        f'<script crossorigin="anonymous" defer="defer" type="application/javascript" '
        f'src="/assets/chunk-{n:05d}-{(n * 2654435761) % 16**12:012x}.js"></script>'
        for n in range(scripts)
    )
    return (
        f'<!DOCTYPE html><html lang="en" data-color-mode="auto"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>{metas}{og}{links}"
        f"{_css(site.split('.')[0], styles)}{script_tags}</head>"
    )


def _nav(items: list[str], css: str) -> str:
    return (
        f'<nav class="{css}" aria-label="Global"><ul>'
        + "".join(
            f'<li><a class="{css}-item" href="/{item.lower().replace(" ", "-")}" data-analytics-event='
            f'\'{{"category":"Header","action":"go to {escape(item)}","label":"ref_cta:{escape(item)}"}}\'>'
            f"{_icon('chevron')}{escape(item)}</a></li>"
            for item in items
        )
        + "</ul></nav>"
    )


_GITHUB_NAV = [
    *("Product", "GitHub Copilot", "Actions", "Codespaces", "Issues", "Code Review", "Discussions"),
    *("Code Search", "Solutions", "Enterprise", "Teams", "Startups", "Education", "DevSecOps"),
    *("Resources", "Learning Pathways", "Events", "Customer Stories", "Partners", "Open Source"),
    *("Sponsors", "ReadME Project", "Repositories", "Topics", "Trending", "Collections", "Pricing"),
]
_REPO_NAV = ["Code", "Issues 1.2k", "Pull requests 341", "Discussions", "Actions", "Projects", "Security"]
_FOOTER = [
    *("Terms", "Privacy", "Security", "Status", "Docs", "Contact", "Manage cookies"),
    *("Do not share my personal information", "About", "Blog", "Careers", "Press", "Shop"),
]


def github_commits_page() -> str:
    """GET /apache/airflow/commits/main: the day's commits, newest first, in the site's chrome."""
    repo = digest_day.REPO
    rows = []
    payload_commits = []
    for c in sorted(digest_day.commits(), key=lambda c: c.when, reverse=True):
        stamp = c.when.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(
            '<li class="Box-sc-g0xbh4-0 commit-row" data-testid="commit-row-item">'
            '<div class="Box-sc-g0xbh4-0 commit-title"><h4 class="markdown-title">'
            f'<a class="Link--secondary" href="/{repo}/commit/{c.sha}"'
            f' data-pjax="true">{escape(c.subject)}</a>'
            f'</h4></div><div class="commit-meta"><a class="avatar" href="/{c.author}">'
            f'<img src="https://avatars.example/{c.author}?s=40&amp;v=4"'
            f' alt="{c.author}" width="16" height="16">'
            f'</a><a class="author-link" href="/{repo}/commits?author={c.author}">{c.author}</a> committed '
            f'<relative-time datetime="{stamp}" tense="past">{c.when:%b %d, %Y}</relative-time></div>'
            f'<div class="commit-actions"><a class="sha-link" href="/{repo}/commit/{c.sha}" '
            f'aria-label="View commit details">{c.sha[:7]}</a>'
            f'<button class="copy-button" aria-label="Copy full SHA for {c.sha[:7]}" value="{c.sha}">'
            f"{_icon('copy')}</button>"
            f'<a class="browse" href="/{repo}/tree/{c.sha}" aria-label="Browse repository at this point">'
            f"{_icon('code')}</a></div></li>"
        )
        payload_commits.append(
            {
                "oid": c.sha,
                "url": f"/{repo}/commit/{c.sha}",
                "authoredDate": stamp,
                "committedDate": stamp,
                "shortMessageMarkdownLink": f'<a href="/{repo}/commit/{c.sha}">{escape(c.subject)}</a>',
                "bodyMessageHtml": "",
                "authors": [{"login": c.author, "avatarUrl": f"https://avatars.example/{c.author}?v=4"}],
                "committer": {"login": "web-flow", "avatarUrl": "https://avatars.example/web-flow?v=4"},
                "committerAttribution": False,
                "hasSignature": True,
                "signatureInformation": {
                    "hasSignature": True,
                    "helpUrl": "https://docs.example/signing",
                    "isViewer": False,
                    "keyExpired": False,
                    "keyId": "B5690EEEBB952194",
                    "signatureType": "GpgSignature",
                    "signerLogin": "web-flow",
                },
                "statusCheckStatus": {"state": "success", "shortText": "48 / 48 checks OK"},
                "parents": [f"{(int(c.sha, 16) + 1) % 16**40:040x}"],
            }
        )
    embedded = json.dumps(
        {
            "payload": {
                "commitGroups": [
                    {"title": f"Commits on {digest_day.DAY:%b %d, %Y}", "commits": payload_commits}
                ],
                "currentCommit": {"oid": payload_commits[0]["oid"]},
                "filters": {"since": None, "until": None, "author": None, "newPath": None},
                "metadata": {"browsingRenameHistory": False, "deferredDataUrl": f"/{repo}/commits/deferred"},
                "repo": {
                    "id": 33884891,
                    "defaultBranch": "main",
                    "name": "airflow",
                    "ownerLogin": "apache",
                    "currentUserCanPush": False,
                    "isFork": False,
                    "isEmpty": False,
                    "createdAt": "2015-04-13T18:04:58.000Z",
                    "ownerAvatar": "https://avatars.example/u/47359?v=4",
                    "public": True,
                    "private": False,
                    "isOrgOwned": True,
                },
                "refInfo": {"name": "main", "listCacheKey": "v0:1732461234.0", "canEdit": False},
            },
            "title": f"Commits · {repo}",
            "appPayload": {
                "helpUrl": "https://docs.example",
                "enabled_features": {f"f{n}": True for n in range(40)},
            },
        }
    )
    body = (
        '<body class="logged-out env-production page-responsive"><div'
        ' class="position-relative header-wrapper">'
        f'<a href="#start-of-content" class="skip">Skip to content</a><header class="HeaderMktg">'
        f"{_icon('mark-github')}{_nav(_GITHUB_NAV, 'HeaderMenu')}"
        '<form class="search" action="/search"><input'
        ' type="text" name="q" placeholder="Search or jump to...">'
        "</form></header></div>"
        f'<main id="js-repo-pjax-container"><div class="repohead"><a href="/apache">apache</a>/'
        f'<strong><a href="/{repo}">airflow</a></strong> <span class="Label">Public</span>'
        f"{_nav(_REPO_NAV, 'UnderlineNav')}</div>"
        '<react-app app-name="react-code-view" initial-path="/apache/airflow/commits/main">'
        f'<script type="application/json" data-target="react-app.embeddedData">{embedded}</script>'
        f'<div class="commits-list"><h3 class="group-title">{_icon("git-commit")}Commits on '
        f'{digest_day.DAY:%b %d, %Y}</h3><ul class="commit-group">{"".join(rows)}</ul>'
        '<nav class="pagination"><a href="?after=deadbeef+34"'
        ' rel="nofollow">Older</a></nav></div></react-app>'
        f'</main><footer class="footer">{_icon("mark-github")}<span>© 2026 GitHub, Inc.</span>'
        f"{_nav(_FOOTER, 'footer-links')}</footer></body></html>"
    )
    return _head(f"Commits · {repo}", "github.com", styles=180, scripts=60) + body


_NEWS_SECTIONS = [
    *("Home", "Airflow", "LLM ops", "Data engineering", "Cloud", "Security", "Open source"),
    *("Opinion", "Events", "Podcasts", "Newsletters", "Jobs", "About", "Subscribe"),
]


def news_front_page() -> str:
    """GET /: the day's articles as a news site's front page lists them."""
    stories = []
    for n, a in enumerate(sorted(digest_day.articles(), key=lambda a: a.when, reverse=True)):
        stories.append(
            f'<article class="story story--{"lead" if n == 0 else "standard"}" data-story-id="{9100 + n}">'
            '<figure class="story__media"><picture><source'
            f' type="image/webp" srcset="/img/{9100 + n}-480.webp 480w,'
            f' /img/{9100 + n}-960.webp 960w"><img src="/img/{9100 + n}-480.jpg" alt="" loading="lazy" '
            f'width="480" height="270"></picture></figure><div class="story__body">'
            '<a class="story__section"'
            f' href="/section/{a.url.split("/")[3]}">{escape(a.url.split("/")[3])}</a>'
            '<h2 class="story__title"><a class="story-link"'
            f' href="{escape(a.url)}">{escape(a.title)}</a></h2>'
            f'<div class="story__teaser">{a.summary_html}</div><div class="story__byline">By the editors · '
            f'<time datetime="{a.when:%Y-%m-%dT%H:%MZ}">{a.when:%H:%M}</time> · 4 min read</div>'
            f'<ul class="story__share"><li><a href="https://share.example/?u={escape(a.url)}">Share</a></li>'
            f'<li><button class="save" data-id="{9100 + n}">Save</button></li></ul></div></article>'
        )
        if n % 3 == 2:
            stories.append(
                f'<aside class="ad-slot" data-ad-unit="/2126/front/mid{n}" data-sizes="[[728,90],[970,250]]">'
                '<script>window.adq=window.adq||[];adq.push({slot:"mid'
                + str(n)
                + '",lazy:true});</script></aside>'
            )
    analytics = (
        "<script>(function(w,d){w.dataLayer=w.dataLayer||[];function g(){dataLayer.push(arguments)}"
        + "".join(f'g("set","dimension{n}","v{n * 7}");' for n in range(60))
        + "var s=d.createElement('script');s.async=1;s.src='/analytics.js';"
        "d.head.appendChild(s)})(window,document)"
        "</script>"
    )
    body = (
        '<body class="front"><header class="masthead"><a class="logo" href="/">The Pipeline Post</a>'
        f"{_nav(_NEWS_SECTIONS, 'sections')}</header>"
        f'<main class="front-page"><section class="stories">{"".join(stories)}</section>'
        f'<aside class="sidebar"><h3>Most read</h3>{_nav(_NEWS_SECTIONS[:8], "most-read")}</aside></main>'
        f'<footer class="site-footer">{_nav(_NEWS_SECTIONS, "footer")}<p>©'
        " 2026 The Pipeline Post</p></footer>"
        f"{analytics}</body></html>"
    )
    return _head("The Pipeline Post — Airflow and LLM-ops news", "pipelinepost.example", 120, 25) + body


class _Readable(HTMLParser):
    """HTML to the markdown a reader-mode fetch tool returns: no head, scripts, styles or icons;
    links as [text](href), headings as #, one block a line."""

    _SKIP = frozenset({"head", "script", "style", "svg", "noscript", "template"})
    _BLOCKS = frozenset({"p", "div", "li", "ul", "ol", "nav", "header", "footer", "main", "article"})
    _BLOCKS |= frozenset({"section", "aside", "figure", "form", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.href: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif self.skipping:
            return
        elif tag in self._BLOCKS:
            self.out.append("\n" + ("#" * int(tag[1]) + " " if tag[0] == "h" and tag[1:].isdigit() else ""))
        elif tag == "a":
            self.href, self.link_text = dict(attrs).get("href") or "", []

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif not self.skipping and tag == "a" and self.href is not None:
            text = " ".join("".join(self.link_text).split())
            self.out.append(f"[{text}]({self.href})" if text else "")
            self.href = None

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        (self.link_text if self.href is not None else self.out).append(data)


def readable(html: str) -> str:
    """What a fetch tool that converts pages to markdown (reader mode) would return."""
    parser = _Readable()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.out).splitlines())
    return "\n".join(line for line in lines if line)
