"""Known XSS and template-injection vectors, put through every rendered text field by test_xss.py.

Every executable payload sets `window.__xss` (or opens a dialog), so a browser test can tell that it
ran. Sources: the OWASP XSS filter evasion cheat sheet, PortSwigger's XSS cheat sheet, published
mutation-XSS (mXSS) bypasses of HTML sanitizers, and Markdown-specific link and image tricks. Each
fits the shortest field it is put in (200 characters: a title, a person's name).
"""
from __future__ import annotations

SET = "window.__xss=1"

SCRIPT_TAGS = [
    f"<script>{SET}</script>",
    f"<SCRIPT SRC=data:text/javascript,{SET}></SCRIPT>",
    f"<script/src=data:,{SET}></script>",
    f"<scr<script>ipt>{SET}</scr</script>ipt>",
    f"\"><script>{SET}</script>",
    f"'><script>{SET}</script>",
    f"</textarea><script>{SET}</script>",
    f"</title><script>{SET}</script>",
    "<script>alert(1)</script>",
    f"<script type=module>{SET}</script>",
]

EVENT_HANDLERS = [
    f'<img src=x onerror="{SET}">',
    "<img src=x onerror=alert(1)>",
    f"<svg onload={SET}>",
    f"<svg><script>{SET}</script></svg>",
    f"<body onload={SET}>",
    f"<details open ontoggle={SET}>",
    f"<input autofocus onfocus={SET}>",
    f'<video><source onerror="{SET}"></video>',
    f"<marquee onstart={SET}>x</marquee>",
    f'<a href="#" onclick="{SET}">x</a>',
    f"<svg><animate onbegin={SET} attributeName=x dur=1s>",
    f"<svg><set attributeName=onload to={SET} />",
    "<img src=x onerror=&#x77;indow.__xss=1>",
    "<img src=x onerror=eval(atob('d2luZG93Ll9feHNzPTE='))>",
    "<img src=x onerror=confirm(1)>",
    "<img src=x onerror=prompt(1)>",
]

ATTRIBUTE_BREAKERS = [
    f'" onmouseover="{SET}',
    f"' autofocus onfocus='{SET}",
    f'" autofocus onfocus="{SET}" x="',
    f'"><img src=x onerror={SET}>',
    f"'><img src=x onerror={SET}>",
]

STYLE = [
    f'<div style="width:expression({SET})">x</div>',
    f'<p style="background:url(javascript:{SET})">x</p>',
    f"<style>@import 'javascript:{SET}';</style>",
    f'<div style="background-image: url(&quot;javascript:{SET}&quot;)">x</div>',
]

MARKDOWN_LINKS = [
    f"[x](javascript:{SET})",
    f"[x](JaVaScRiPt:{SET})",
    f"[x](javascript&#58;{SET})",
    f"[x](&#106;avascript:{SET})",
    f"[x](java\tscript:{SET})",
    f"![x](javascript:{SET})",
    f'![x](x" onerror="{SET})',
    "[x](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==)",
    f"[x][r]\n\n[r]: javascript:{SET}",
    f"<javascript:{SET}>",
    "[x](vbscript:msgbox(1))",
    f'[a](https://example.jp "x\\" onmouseover=\\"{SET}")',
    f"[<img src=x onerror={SET}>](https://example.jp)",
    f"![<img src=x onerror={SET}>](https://example.jp/a.png)",
]

HTML_LINKS = [
    f'<a href="javascript:{SET}">x</a>',
    f'<a href="&#x6A;avascript:{SET}">x</a>',
    f'<a href="jav&#x09;ascript:{SET}">x</a>',
    f'<a href=" javascript:{SET}">x</a>',
    f'<a href="data:text/html,<script>{SET}</script>">x</a>',
    f'<form action="javascript:{SET}"><button>x</button></form>',
    f'<button formaction="javascript:{SET}">x</button>',
    f'<svg><a xlink:href="javascript:{SET}"><text x="20" y="20">x</text></a></svg>',
    f'<math><maction actiontype="statusline" xlink:href="javascript:{SET}">x</maction></math>',
    f'<base href="javascript:{SET}//">',
    f'<meta http-equiv="refresh" content="0;url=javascript:{SET}">',
]

FRAMES = [
    "<iframe src=\"javascript:top.__xss=1\"></iframe>",
    "<iframe srcdoc=\"<script>parent.__xss=1</script>\"></iframe>",
    "<iframe srcdoc=\"&lt;img src=x onerror=parent.__xss=1&gt;\"></iframe>",
    "<object data=\"data:text/html,<script>parent.__xss=1</script>\"></object>",
    "<embed src=\"data:text/html,<script>parent.__xss=1</script>\">",
]

MUTATION = [
    f'<noscript><p title="</noscript><img src=x onerror={SET}>">',
    f'<svg></p><style><a id="</style><img src=1 onerror={SET}>">',
    f"<math><mtext><table><mglyph><style><img src=x onerror={SET}>",
    f"<form><math><mtext></form><form><mglyph><style></math><img src onerror={SET}>",
    f"<!--><img src=x onerror={SET}>-->",
    f"<![CDATA[><img src=x onerror={SET}>]]>",
    f"<xmp><img src=x onerror={SET}></xmp>",
    f"<style><img src=x onerror={SET}></style>",
    f'<svg><style><img src=x onerror="{SET}"></style></svg>',
    f"<select><template><style><img src=x onerror={SET}></style></template></select>",
]

ENCODED = [
    f"&lt;script&gt;{SET}&lt;/script&gt;",
    "%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E",
    "\\u003cscript\\u003ewindow.__xss=1\\u003c/script\\u003e",
    f"＜script＞{SET}＜/script＞",
    f"\u202e<script>{SET}</script>",
    f"+ADw-script+AD4-{SET}+ADw-/script+AD4-",
]

MARKDOWN_BLOCKS = [
    f"```html\n<script>{SET}</script>\n```",
    f"`<img src=x onerror={SET}>`",
    f"| a | b |\n|---|---|\n| <img src=x onerror={SET}> | <script>{SET}</script> |",
    f"> <img src=x onerror={SET}>",
    f"* [x](javascript:{SET})\n* <svg onload={SET}>",
    f'<div markdown="1">[x](javascript:{SET})</div>',
    f"<p>*<img src=x onerror={SET}>*</p>",
]

# Template injection: must come out literally (Jinja, Python format strings, other engines).
TEMPLATES = [
    "{{7*7}}",
    "{{ 7777*3 }}",
    "{{ config }}",
    "{{ config.items() }}",
    "{% for x in range(3) %}{{ x }}{% endfor %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ url_for.__globals__ }}",
    "{{ request.environ }}",
    "${7*191}",
    "#{7*191}",
    "<%= 7*191 %>",
    "{0.__class__} %(password)s %s",
    "{% raw %}{{ 7*7 }}{% endraw %}",
]
# What an evaluated template vector would print, and what it must print instead.
EVALUATED = {"{{7*7}}": "49", "{{ 7777*3 }}": "23331", "${7*191}": "1337", "#{7*191}": "1337", "<%= 7*191 %>": "1337"}

VECTORS = (SCRIPT_TAGS + EVENT_HANDLERS + ATTRIBUTE_BREAKERS + STYLE + MARKDOWN_LINKS + HTML_LINKS + FRAMES + MUTATION
           + ENCODED + MARKDOWN_BLOCKS + TEMPLATES)

assert len(VECTORS) == len(set(VECTORS)) >= 60 and max(len(v) for v in VECTORS) <= 200
