/**
 * CSS escaping shared by the runner (which builds the selectors it queries) and the exporters
 * (which write them into files): both must find the same element for the same candidate.
 */

/**
 * Serializes `value` as a CSS identifier, like the browser's `CSS.escape()` (CSSOM §2.1), so an id
 * such as `a:b.c` or `1st` can follow `#`.
 */
export function cssEscapeIdentifier(value: string): string {
  let result = "";
  const firstCode = value.charCodeAt(0);
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const char = value.charAt(i);
    if (code === 0x0000) {
      result += "\uFFFD";
    } else if (
      (code >= 0x0001 && code <= 0x001f) ||
      code === 0x007f ||
      (i === 0 && code >= 0x0030 && code <= 0x0039) ||
      (i === 1 && code >= 0x0030 && code <= 0x0039 && firstCode === 0x002d)
    ) {
      result += `\\${code.toString(16)} `;
    } else if (i === 0 && value.length === 1 && code === 0x002d) {
      result += `\\${char}`;
    } else if (
      code >= 0x0080 ||
      code === 0x002d ||
      code === 0x005f ||
      (code >= 0x0030 && code <= 0x0039) ||
      (code >= 0x0041 && code <= 0x005a) ||
      (code >= 0x0061 && code <= 0x007a)
    ) {
      result += char;
    } else {
      result += `\\${char}`;
    }
  }
  return result;
}

/**
 * `value` as a double-quoted CSS string, for attribute selectors: `[name=${cssString(v)}]`.
 * Backslashes, quotes and line breaks are escaped, so no value can end the string early.
 */
export function cssString(value: string): string {
  let escaped = "";
  for (const char of value) {
    const code = char.charCodeAt(0);
    if (char === "\\" || char === '"') escaped += `\\${char}`;
    else if (code === 0) escaped += "\uFFFD";
    else if (code < 0x20 || code === 0x7f) escaped += `\\${code.toString(16)} `;
    else escaped += char;
  }
  return `"${escaped}"`;
}
