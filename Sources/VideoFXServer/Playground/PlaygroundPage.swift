/// The playground's page: one HTML document; its script and style are served beside it from the same
/// binary (no CDN, no build step), under a Content-Security-Policy that allows only this origin.
enum PlaygroundPage {
    static let html = PageShell.page(title: "VideoFX playground", script: "/playground/app.js", link: ("/docs", "API reference"),
                                     body: #"""
<section aria-labelledby="source-title">
  <h2 id="source-title">Source</h2>
  <div id="drop" class="drop">
    <label for="file">Video file</label>
    <input id="file" type="file" accept="video/*,.mkv,.mov,.mp4,.webm">
    <span class="hint">or drop a file here</span>
  </div>
  <progress id="upload-progress" max="100" value="0" aria-label="Upload progress" hidden></progress>
  <label for="url">Video URL</label>
  <input id="url" type="url" placeholder="https://example.com/clip.mp4">
  <p id="source-error" class="error" role="alert"></p>
</section>

<section aria-labelledby="steps-title">
  <h2 id="steps-title">Effects</h2>
  <div class="row">
    <label for="add">Add effect</label>
    <select id="add"></select>
    <button id="add-button" type="button">Add</button>
  </div>
  <ol id="steps"></ol>
  <label for="chain">Effects</label>
  <input id="chain" type="text" spellcheck="false" aria-describedby="chain-error">
  <p id="chain-error" class="error" role="alert"></p>
</section>

<section aria-labelledby="preview-title">
  <h2 id="preview-title">Preview</h2>
  <label for="time">Time</label>
  <input id="time" type="range" min="0" max="10" step="0.1" value="0">
  <output id="time-value" for="time">0.0 s</output>
  <figure>
    <img id="preview" alt="Preview: the original on the left, the result on the right" hidden>
    <figcaption id="preview-status">Pick a video to see a preview.</figcaption>
  </figure>
</section>

<section aria-labelledby="output-title">
  <h2 id="output-title">Output</h2>
  <div class="row">
    <label for="codec">Codec</label>
    <select id="codec"></select>
    <label for="quality">Quality</label>
    <input id="quality" type="number" min="0" max="63" step="1">
    <input id="audio" type="checkbox" checked>
    <label for="audio">Audio</label>
  </div>
  <div class="row">
    <button id="run" type="button">Run</button>
    <button id="cancel" type="button" disabled>Cancel</button>
  </div>
  <progress id="progress" max="100" value="0" aria-label="Progress"></progress>
  <pre id="log" aria-label="Log" tabindex="0"></pre>
  <p id="run-error" class="error" role="alert"></p>
  <video id="result" controls muted playsinline hidden></video>
  <p><a id="download" download="output.mp4" hidden>Download</a></p>
  <dl id="metrics"></dl>
</section>

<section id="queue" hidden aria-labelledby="queue-title">
  <h2 id="queue-title">Queue</h2>
  <p id="queue-summary"></p>
  <table><thead><tr><th scope="col">Worker</th><th scope="col">Heartbeat age</th><th scope="col">Running</th></tr></thead>
  <tbody id="workers"></tbody></table>
</section>

<section aria-labelledby="recent-title">
  <h2 id="recent-title">Recent predictions</h2>
  <ul id="recent"></ul>
</section>
"""#)
}

/// What the playground and `/docs` share: the document's head (their own script, the one style sheet),
/// the header with a link to the other page, and the form that asks for the access token.
enum PageShell {
    static func page(title: String, script: String, link: (href: String, text: String), mainClass: String? = nil, body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title)</title>
        <link rel="stylesheet" href="/playground/app.css">
        <script src="\(script)" defer></script>
        </head>
        <body>
        <header><h1>\(title)</h1><a href="\(link.href)">\(link.text)</a></header>
        <main\(mainClass.map { " class=\"\($0)\"" } ?? "")>
        \(tokenForm)
        \(body)</main>
        </body>
        </html>
        """
    }

    static let tokenForm = #"""
<section id="auth" hidden aria-labelledby="auth-title">
  <h2 id="auth-title">Access</h2>
  <form id="auth-form">
    <label for="token">Access token</label>
    <input id="token" type="password" autocomplete="off" required>
    <button type="submit">Use token</button>
  </form>
  <p id="auth-error" class="error" role="alert"></p>
</section>
"""#
}
