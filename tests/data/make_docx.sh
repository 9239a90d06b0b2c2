#!/usr/bin/env bash
# Regenerates the .docx test files from the shared corpora with pandoc (Debian package `pandoc`),
# so the DOCX reader meets files written by a real converter, not by python-docx itself.
# Usage: tests/data/make_docx.sh   (from anywhere; needs pandoc and the repo's .venv)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CURATED="$HERE/corpus"
PY="$HERE/../../.venv/bin/python"
# Node.js url API docs: headings down to level 5, code blocks, links, one table (protocol | port)
pandoc -f markdown -t docx -o "$HERE/node_url.docx" "$CURATED/md_node_url.md"
# Python programming FAQ: only the page's main content (div.body), as a writer would have it
"$PY" - "$CURATED/html_python_faq_programming.html" > "$HERE/.faq_body.html" <<'PY'
import sys
import lxml.html
root = lxml.html.parse(sys.argv[1]).getroot()
body = root.xpath("//div[@role='main']")[0]
for link in body.xpath(".//a[@class='headerlink']"):
    link.drop_tree()
print(lxml.html.tostring(body, encoding="unicode"))
PY
pandoc -f html -t docx -M title="Programming FAQ" -o "$HERE/python_faq_programming.docx" "$HERE/.faq_body.html"
rm "$HERE/.faq_body.html"
ls -l "$HERE"/*.docx
