/// `/docs`: the API reference, rendered in the browser from `/openapi.json` (every operation with its
/// answers, the prediction's inputs and the effect catalogue), self-contained like the playground.
enum DocsPage {
    static let html = PageShell.page(title: "VideoFX API reference", script: "/docs/app.js", link: ("/playground", "Playground"),
                                     mainClass: "docs", body: #"""
<section aria-labelledby="ops-title"><h2 id="ops-title">Operations</h2><div id="operations">Loading /openapi.json…</div></section>
<section aria-labelledby="inputs-title"><h2 id="inputs-title">Prediction inputs</h2><div id="inputs"></div></section>
<section aria-labelledby="steps-title"><h2 id="steps-title">Effects</h2><div id="catalogue"></div></section>
"""#)

    static let js = #"""
"use strict";
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
function table(headers, rows) {
  const t = el("table"); const h = el("tr");
  for (const x of headers) h.appendChild(el("th", x));
  t.appendChild(h);
  for (const r of rows) { const tr = el("tr"); for (const x of r) tr.appendChild(el("td", x === undefined ? "" : String(x))); t.appendChild(tr); }
  return t;
}
function range(s) {
  if (!s) return "";
  if (s.enum) return s.enum.join(", ");
  if (s.minimum !== undefined || s.maximum !== undefined) return (s.minimum ?? "") + " … " + (s.maximum ?? "");
  return s.format || s.type || (s.anyOf ? "see description" : "");
}
async function load() {
  const token = sessionStorage.getItem("vfx-token");
  const r = await fetch("/openapi.json", { headers: token ? { Authorization: "Bearer " + token } : {} });
  if (r.status === 401) { document.getElementById("auth").hidden = false; document.getElementById("operations").textContent = "The server needs an access token."; return; }
  const doc = await r.json();
  const ops = document.getElementById("operations"); ops.textContent = "";
  for (const [path, item] of Object.entries(doc.paths).sort()) {
    for (const [method, op] of Object.entries(item)) {
      const box = el("article");
      box.appendChild(el("h3", method.toUpperCase() + " " + path));
      box.appendChild(el("p", op.summary || ""));
      const rows = Object.entries(op.responses || {}).map(([code, resp]) => [code, resp.description || ""]);
      box.appendChild(table(["status", "meaning"], rows));
      ops.appendChild(box);
    }
  }
  const input = doc.components.schemas.Input.properties;
  document.getElementById("inputs").appendChild(table(["input", "values", "default", "description"],
    Object.entries(input).sort((a, b) => (a[1]["x-order"] ?? 0) - (b[1]["x-order"] ?? 0))
      .map(([name, s]) => [name, range(s) || (s.allOf ? range(doc.components.schemas[name]) : ""), s.default === undefined ? "" : JSON.stringify(s.default), s.description || ""])));
  const cat = document.getElementById("catalogue");
  for (const step of doc.components.schemas.Step.oneOf) {
    const box = el("article");
    box.appendChild(el("h3", step.title + " (" + (step["x-kind"] || "") + ")"));
    box.appendChild(el("p", step.description || ""));
    const params = (step.properties.params && step.properties.params.properties) || {};
    if (Object.keys(params).length) box.appendChild(table(["parameter", "values", "unit", "default", "description"],
      Object.entries(params).map(([k, s]) => [k, range(s), s["x-unit"] || "", s.default === undefined ? "" : s.default, s.description || ""])));
    cat.appendChild(box);
  }
}
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("auth-form").addEventListener("submit", (e) => {
    e.preventDefault(); sessionStorage.setItem("vfx-token", document.getElementById("token").value);
    document.getElementById("auth").hidden = true; load();
  });
  load();
});
"""#
}
