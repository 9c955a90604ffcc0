"""Pack one language's lesson page into a single HTML file that needs nothing beside it.

The page is taken from a built site. Its style sheets become <style> elements
(with the math font and any other url() inside as data: URLs), its
scripts are inlined, and its images become data: URLs (a figure's dark look,
`name.svg#dark`, a copy of its own: a data: URL cannot end in #dark), and so
do the frames the snapshot player shows (their list is in the page's JSON). The
file opens offline on its own and can be sent by e-mail.

Links to other files of the site (the home page, the other language, the
data downloads) would lead nowhere from such a file, so they become plain
text. The page's Content-Security-Policy is rewritten for the inlined page:
exactly these scripts and style sheets (by hash), images and fonts only from
data: URLs, and no network at all.

Nothing here reads or writes files: `single_page` takes the site's files and returns the page's bytes.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re

from engine.images import dark_copy
from engine.output import SINGLE_FILE_MARK
from engine.pages import csp_hash

TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png",
         ".gif": "image/gif", ".jpg": "image/jpeg", ".webp": "image/webp", ".woff": "font/woff",
         ".woff2": "font/woff2"}
ATTRIBUTE = re.compile(r'([\w:-]+)="([^"]*)"')
STYLESHEET = re.compile(r'<link\b[^>]*\brel="stylesheet"[^>]*>')
SCRIPT = re.compile(r'<script\b([^>]*)\bsrc="([^"]*)"([^>]*)></script>')
LINK_TAG = re.compile(r"<link\b[^>]*>")
MEDIA_TAG = re.compile(r"<(?:img|source)\b[^>]*>")
ANCHOR = re.compile(r"<a\b([^>]*)>(.*?)</a>", re.DOTALL)
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
JSON_DATA = re.compile(r'(<script type="application/json" id="lesson-data">)(.*?)(</script>)', re.DOTALL)
POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n?')
INLINE = re.compile(r"<(script|style)\b([^>]*)>(.*?)</\1>", re.DOTALL)
REFERENCE = re.compile(r'\s(?:src|href|srcset)="([^"]*)"')
KEPT_ON_TEXT = ("class", "lang", "id")   # what a link turned into text keeps
NONE = "'none'"


class SingleFileError(Exception):
    """The page uses something that cannot be packed; str() says what, in one line."""


def single_page(site: dict[str, bytes], lang: str) -> bytes:
    """The lesson in `lang` as one HTML file with every file it uses inside."""
    page = f"{lang}/index.html"
    html = read(site, page, page).decode("utf-8")
    html = JSON_DATA.sub(lambda m: m.group(1) + inline_frames(site, m.group(2)) + m.group(3), html)
    # Scripts and style sheets are set aside while the page's own markup is rewritten, so
    # the passes below never look inside them; each is kept whole and hashed for the policy.
    kept: list[str] = []

    def set_aside(element: str) -> str:
        kept.append(element)
        return f"\x00{len(kept) - 1}\x00"

    html = STYLESHEET.sub(lambda m: set_aside(style_element(site, page, m.group(0))), html)
    html = SCRIPT.sub(lambda m: set_aside(script_element(site, page, m)), html)
    html = INLINE.sub(lambda m: set_aside(m.group(0)), html)
    html = LINK_TAG.sub(lambda m: icon_link(site, page, m.group(0)), html)
    html = MEDIA_TAG.sub(lambda m: media_tag(site, page, m.group(0)), html)
    # The player puts data-root before each frame's name; the names are now whole data: URLs.
    html = re.sub(r' data-root="[^"]*"', ' data-root=""', html)
    html = ANCHOR.sub(text_link, html)
    left = next(filter(is_local, REFERENCE.findall(html)), None)
    if left:
        raise SingleFileError(f"--single-file: {page} refers to {left}, which cannot be packed")
    html = with_policy(html, kept)
    html = html.replace("\n", f"\n{SINGLE_FILE_MARK.decode()}\n", 1)   # --single-file may replace this file later
    return re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], html).encode("utf-8")


def read(site: dict[str, bytes], page: str, name: str) -> bytes:
    """A file of the built site, by its path inside the site."""
    if name not in site:
        raise SingleFileError(f"--single-file: {page} refers to {name}, which is not in the site")
    return site[name]


def site_path(base: str, reference: str) -> str:
    """The path inside the site of a reference made from the file `base`."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), reference.split("#")[0].split("?")[0]))


def is_local(reference: str) -> bool:
    """Whether a reference names a file of the site (not an anchor, a data: URL or another server)."""
    return bool(reference) and not re.match(r"#|data:|[a-z][a-z0-9+.-]*:", reference)


def data_url(site: dict[str, bytes], page: str, name: str) -> str:
    """A file of the site as a data: URL."""
    kind = TYPES.get(posixpath.splitext(name)[1])
    if kind is None:
        raise SingleFileError(f"--single-file: {page} refers to {name}, a kind of file that is not packed")
    return f"data:{kind};base64,{base64.b64encode(read(site, page, name)).decode('ascii')}"


def style_element(site: dict[str, bytes], page: str, tag: str) -> str:
    """A <link rel="stylesheet"> as a <style> element, its url()s as data: URLs."""
    attributes = dict(ATTRIBUTE.findall(tag))
    name = site_path(page, attributes["href"])
    css = read(site, page, name).decode("utf-8")
    css = CSS_URL.sub(lambda m: f"url({data_url(site, name, site_path(name, m.group(2)))})"
                      if is_local(m.group(2)) else m.group(0), css)
    if "</style" in css.lower():
        raise SingleFileError(f"--single-file: {name} contains </style, which would end the inlined style sheet")
    media = f' media="{attributes["media"]}"' if "media" in attributes else ""
    return f"<style{media}>{css}</style>"


def script_element(site: dict[str, bytes], page: str, match: re.Match) -> str:
    """A <script src> with the script inside (run in place, as it was: the page uses no defer or async)."""
    code = read(site, page, site_path(page, match.group(2))).decode("utf-8")
    code = re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)   # the same string to JavaScript
    return f"<script{match.group(1).rstrip()}{match.group(3)}>{code}</script>"


def icon_link(site: dict[str, bytes], page: str, tag: str) -> str:
    """The page's icon as a data: URL; another <link> to a file of the site is dropped."""
    href = dict(ATTRIBUTE.findall(tag)).get("href", "")
    if not is_local(href):
        return tag
    if 'rel="icon"' in tag:
        return tag.replace(f'href="{href}"', f'href="{data_url(site, page, site_path(page, href))}"')
    return ""


def media_tag(site: dict[str, bytes], page: str, tag: str) -> str:
    """An <img> or <source> whose src or srcset (one image each, here) is a data: URL."""
    for name in ("src", "srcset"):
        value = dict(ATTRIBUTE.findall(tag)).get(name, "")
        if is_local(value):
            if " " in value.strip() or "," in value:
                raise SingleFileError(f"--single-file: {page}: {name}={value!r} lists more than one image")
            path = site_path(page, value)
            if value.endswith(".svg#dark"):   # a figure's dark look: a data: URL may not end in #dark (RFC 2397)
                url = data_url({path: dark_copy(read(site, page, path))}, page, path)
            else:
                url = data_url(site, page, path)
            tag = tag.replace(f'{name}="{value}"', f'{name}="{url}"')
    return tag


def inline_frames(site: dict[str, bytes], text: str) -> str:
    """The page's JSON with each frame's file name replaced by its data: URL."""
    for name in json.loads(text).get("frames", []):
        text = text.replace(json.dumps(name), json.dumps(data_url(site, "lesson-data", name)))
    return text


def text_link(match: re.Match) -> str:
    """A link to another file of the site as text (kept: its class, language and id); others stay."""
    attributes = dict(ATTRIBUTE.findall(match.group(1)))
    if not is_local(attributes.get("href", "")):
        return match.group(0)
    kept = "".join(f' {key}="{value}"' for key, value in attributes.items() if key in KEPT_ON_TEXT)
    return f"<span{kept}>{match.group(2)}</span>"


def with_policy(html: str, inline: list[str]) -> str:
    """The page with a Content-Security-Policy that allows its inline scripts and styles and nothing remote."""
    scripts, styles = [], []
    for kind, attributes, body in (INLINE.fullmatch(element).groups() for element in inline):
        if kind == "style":
            styles.append(csp_hash(body))
        elif 'type="application/json"' not in attributes:   # data, never run
            scripts.append(csp_hash(body))
    policy = (f"default-src 'none'; script-src {' '.join(scripts) or NONE}; style-src 'unsafe-inline'; "
              f"style-src-elem {' '.join(styles) or NONE}; img-src data:; font-src data:; "
              "base-uri 'none'; form-action 'none'")
    html = POLICY.sub("", html)
    head = re.search(r"<meta charset[^>]*>", html) or re.search(r"<head>", html)
    return f'{html[:head.end()]}\n<meta http-equiv="Content-Security-Policy" content="{policy}">{html[head.end():]}'
