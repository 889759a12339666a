/**
 * Text from the outside world (action labels, log lines, init's status) lands in SVG and
 * HTML. XML 1.0 forbids most C0 control characters even as character references, so a label
 * carrying one would make a standalone SVG unparseable: they are dropped, not escaped.
 */
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe for element text and for double- or single-quoted attribute values, in SVG and HTML. */
export function escapeXml(text: string): string {
  return String(text)
    .replace(INVALID_XML, '')
    .replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** Shortens for display; the full text stays available in a title or data attribute. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, Math.max(1, max - 1)).join('') + '…';
}
