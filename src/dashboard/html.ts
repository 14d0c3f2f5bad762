/**
 * The one owner of HTML escaping in the dashboard: every value interpolated into an `html`
 * template is escaped, unless it is a {@link SafeHtml} that another `html` template built.
 * Pages never concatenate strings into markup; they nest templates.
 */
export class SafeHtml {
  /** Only `html`, `joinHtml` and `trustedHtml` build one. */
  private constructor(readonly text: string) {}

  /** @internal */
  static of(text: string): SafeHtml {
    return new SafeHtml(text);
  }

  toString(): string {
    return this.text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** `value` as text: `& < > " '` replaced by their entities, so it is text in an element or an attribute. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
}

/** An interpolated value: markup built already, text, a number, nothing, or a list of these. */
export type HtmlValue =
  SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.text;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  return escapeHtml(String(value));
}

/** Markup from a template: the literal parts as written, every `${value}` escaped (see {@link HtmlValue}). */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let text = strings[0] ?? '';
  for (let index = 0; index < values.length; index++) {
    text += render(values[index]) + (strings[index + 1] ?? '');
  }
  return SafeHtml.of(text);
}

/** The parts joined by `separator`, each escaped unless it is markup. */
export function joinHtml(parts: readonly HtmlValue[], separator: SafeHtml = html``): SafeHtml {
  return SafeHtml.of(parts.map(render).join(separator.text));
}

/**
 * JSON for a `<script type="application/json">` element: `<` written `\u003c` (and `>` and `&`
 * alike), so no string inside can close the element or open a comment; the JSON value is
 * unchanged for `JSON.parse`.
 */
export function jsonScriptData(value: unknown): SafeHtml {
  const json = JSON.stringify(value) ?? 'null';
  return SafeHtml.of(
    json
      .replace(/</g, '\\u003c')
      .replace(/>/g, '\\u003e')
      .replace(/&/g, '\\u0026')
      .replace(/\u2028/g, '\\u2028')
      .replace(/\u2029/g, '\\u2029'),
  );
}
