import { describe, expect, it } from '@jest/globals';
import { escapeHtml, html, joinHtml, jsonScriptData } from '../../src/dashboard/html.js';

const SCRIPT = '<script>window.__pwned=1</script>';
const ATTRIBUTE = '"><img src=x onerror=window.__pwned=1>';

describe('the html template', () => {
  it('escapes every interpolation, in text and in attributes', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
    expect(html`<p title="${ATTRIBUTE}">${SCRIPT}</p>`.text).toBe(
      '<p title="&quot;&gt;&lt;img src=x onerror=window.__pwned=1&gt;">&lt;script&gt;window.__pwned=1&lt;/script&gt;</p>',
    );
    expect(html`<p title="${"' onmouseover='x"}"></p>`.text).toBe(
      `<p title="&#39; onmouseover=&#39;x"></p>`,
    );
  });

  it('nests built markup as is, renders lists, numbers and nothing', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}</p>`.text).toBe('<p><b>&lt;i&gt;</b></p>');
    expect(html`${[1, '<', inner]}`.text).toBe('1&lt;<b>&lt;i&gt;</b>');
    expect(html`${null}${undefined}${false}${0}`.text).toBe('0');
    expect(joinHtml(['<a>', inner], html`<br />`).text).toBe('&lt;a&gt;<br /><b>&lt;i&gt;</b>');
    // A string that looks like markup stays text: only SafeHtml passes through.
    const fake = { text: '<script>' } as unknown as string;
    expect(html`${fake}`.text).toBe('[object Object]');
  });

  it('writes JSON for a script element that no string inside can close', () => {
    const data = { body: `</script><script>alert(1)</script><!-- & \u2028` };
    const text = jsonScriptData(data).text;
    expect(text).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(text)).toEqual(data);
    expect(jsonScriptData(undefined).text).toBe('null');
  });
});
