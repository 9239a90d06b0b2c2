// A small Markdown renderer for answers: everything is escaped first, then a few constructs
// (code blocks, inline code, bold, italics, lists, headings, links to http(s) or this server)
// are turned back into HTML. Nothing from a document or a model reaches the page unescaped.
"use strict";

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function safeUrl(url) {
  // only this server's paths and http(s) links; never javascript: or data:
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") return parsed.href;
  } catch (e) { /* not a URL */ }
  return null;
}

function inline(escaped) {
  // escaped text in; code spans are cut out first so nothing inside them is formatted
  const parts = escaped.split(/(`[^`]+`)/g);
  return parts.map((part) => {
    if (part.length > 1 && part.startsWith("`") && part.endsWith("`")) {
      return "<code>" + part.slice(1, -1) + "</code>";
    }
    return part
      .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (m, label, href) => {
        const url = safeUrl(href.replace(/&amp;/g, "&"));
        return url ? `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${label}</a>` : m;
      })
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
      .replace(/\[(\d+(?:\s*[,;]\s*\d+)*)\]/g, (m, nums) =>
        nums.split(/[,;]/).map((n) => `<sup class="cite" data-n="${n.trim()}">[${n.trim()}]</sup>`).join(""));
  }).join("");
}

function renderMarkdown(text) {
  const lines = escapeHtml(text).split("\n");
  const out = [];
  let list = null;
  let code = null;
  let para = [];
  const flush = () => {
    if (para.length) { out.push("<p>" + inline(para.join("<br>")) + "</p>"); para = []; }
    if (list) { out.push(`</${list}>`); list = null; }
  };
  for (const line of lines) {
    if (code !== null) {
      if (line.startsWith("```")) { out.push("<pre><code>" + code.join("\n") + "</code></pre>"); code = null; }
      else code.push(line);
      continue;
    }
    if (line.startsWith("```")) { flush(); code = []; continue; }
    const item = line.match(/^\s*(?:[-*]|(\d+)[.)])\s+(.*)$/);
    if (item) {
      const kind = item[1] ? "ol" : "ul";
      if (para.length) { out.push("<p>" + inline(para.join("<br>")) + "</p>"); para = []; }
      if (list !== kind) { if (list) out.push(`</${list}>`); out.push(`<${kind}>`); list = kind; }
      out.push("<li>" + inline(item[2]) + "</li>");
      continue;
    }
    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    if (heading) { flush(); out.push(`<h${heading[1].length + 2}>${inline(heading[2])}</h${heading[1].length + 2}>`); continue; }
    if (!line.trim()) { flush(); continue; }
    if (list) { out.push(`</${list}>`); list = null; }
    para.push(line);
  }
  if (code !== null) out.push("<pre><code>" + code.join("\n") + "</code></pre>");
  flush();
  return out.join("");
}
