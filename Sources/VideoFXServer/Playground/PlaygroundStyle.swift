/// The playground's style: readable at 1280x800 and at phone width.
enum PlaygroundStyle {
    static let css = #"""
:root { font-family: system-ui, sans-serif; color: #1b1b1b; background: #fafafa; }
body { margin: 0; overflow-wrap: anywhere; }
header { display: flex; justify-content: space-between; align-items: baseline; padding: 0.5rem 1rem; background: #20232a; color: #fff; }
header a { color: #9cdcfe; }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 0 0 0.5rem; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap: 1rem; padding: 1rem; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 0.75rem; min-width: 0; }
label { display: block; font-weight: 600; margin-top: 0.5rem; }
input[type=text], input[type=url], input[type=password], select { width: 100%; box-sizing: border-box; padding: 0.3rem; }
.row { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; }
.row label { margin-top: 0; }
.row select { width: auto; flex: 1 1 10rem; min-width: 0; max-width: 100%; }
select { max-width: 100%; }
.drop { border: 2px dashed #aaa; padding: 0.5rem; border-radius: 6px; }
.drop.over { border-color: #0a66c2; background: #eef5ff; }
.hint { color: #666; font-size: 0.9rem; }
#steps { padding-left: 1.2rem; }
#steps li { margin: 0.5rem 0; padding: 0.4rem; border: 1px solid #eee; border-radius: 4px; }
#steps li button { margin-left: 0.3rem; }
.param { display: grid; grid-template-columns: 9rem 1fr 6rem; gap: 0.3rem; align-items: center; }
.param label { margin: 0; font-weight: 400; }
.param input, .param select { width: 100%; box-sizing: border-box; min-width: 0; }
.error { color: #b00020; min-height: 1em; }
progress { width: 100%; }
figure { margin: 0.5rem 0 0; }
#preview, #result { max-width: 100%; height: auto; display: block; }
#log { max-height: 10rem; overflow: auto; white-space: pre-wrap; background: #f4f4f4; padding: 0.4rem; font-size: 0.8rem; }
button { padding: 0.35rem 0.8rem; }
button:focus, input:focus, select:focus, a:focus { outline: 3px solid #0a66c2; outline-offset: 1px; }
main.docs { display: block; }
main.docs section { margin-bottom: 1rem; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.3rem 0; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.4rem; text-align: left; vertical-align: top; }
article { margin-bottom: 0.8rem; }
h3 { font-size: 1rem; margin: 0.4rem 0; font-family: ui-monospace, monospace; }
@media (max-width: 30rem) { .param { grid-template-columns: 1fr; } main { padding: 0.5rem; } }
"""#
}
