/**
 * The pages' CSS, inline in each page so a report is one file that can be mailed, attached to
 * a CI run or opened from a USB stick at a demo, with nothing to fetch.
 */
export const BASE_CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f1f5f9; color: #0f172a; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 10px; color: #334155; text-transform: uppercase; letter-spacing: .04em; }
.meta { color: #475569; margin: 0; }
.meta b { color: #0f172a; }
.card { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 16px 18px; margin-top: 16px; box-shadow: 0 1px 2px rgba(15,23,42,.05); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 16px; }
.grid > .card { margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid #f1f5f9; vertical-align: top; }
th { color: #475569; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
pre { margin: 0; background: #0f172a; color: #e2e8f0; padding: 12px 14px; border-radius: 8px; overflow: auto; max-height: 460px; font: 12px/1.5 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-all; }
pre .hot { color: #fca5a5; }
.muted { color: #64748b; }
footer { margin-top: 24px; color: #64748b; font-size: 12px; }
`;
