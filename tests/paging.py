"""Walking the keyset-paged HTML lists as a user does: next links, then previous links."""

from __future__ import annotations

import html
import re

NEXT = re.compile(r'rel="next" href="([^"]+)"')
PREVIOUS = re.compile(r'rel="prev" href="([^"]+)"')


def walk(client, url: str, params: dict | None = None, *, key=lambda row: row.pk) -> dict:
    """Every page from the first through the next links and back through the previous ones:
    {"forward": [keys of the rows, in order], "pages": n, "urls": [...], "backward": [...]}."""
    response = client.get(url, params or {})
    forward, urls, pages = [], [], []
    while True:
        assert response.status_code == 200
        pages.append([key(r) for r in response.context["page"]])
        forward += pages[-1]
        found = NEXT.search(response.content.decode())
        if not found:
            break
        urls.append(html.unescape(found.group(1)))
        response = client.get(urls[-1])
    backward = [pages[-1]]
    while found := PREVIOUS.search(response.content.decode()):
        response = client.get(html.unescape(found.group(1)))
        backward.append([key(r) for r in response.context["page"]])
    return {"forward": forward, "pages": pages, "urls": urls, "backward": backward}
