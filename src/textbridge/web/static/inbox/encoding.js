/* textbridge inbox: The composer's live encoding preview: encoding, segments and cost (from the
 * server's price table) always in view; the characters that force UCS-2 marked in the text, and a
 * one-click replacement of typographic ones (curly quotes, dashes, ellipsis, non-breaking spaces)
 * by their GSM-7 look-alikes. */

import { request } from "./api.js";
import { composerTarget, extrasOf } from "./composer.js";
import { el } from "./dom.js";
import { $, MAX_TEXT, PREVIEW_DELAY_MS } from "./state.js";

/* ---------------------------------------------------- encoding preview */

let previewTimer = null;
let previewSeq = 0;
let lastPreview = null; // {text, info}: what the look-alike button applies

export function schedulePreview() {
  window.clearTimeout(previewTimer);
  previewTimer = window.setTimeout(updatePreview, PREVIEW_DELAY_MS);
}

export function describeChar(char) {
  if (/^[\s\p{C}]$/u.test(char)) {
    return `U+${char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return `“${char}”`;
}

function money(info) {
  if (info.cost === null) return "price unknown";
  const symbol = info.currency === "USD" ? "$" : `${info.currency} `;
  return `${symbol}${info.cost}`;
}

function previewBody(target, text) {
  const body = { text, channel: target.channel === "whatsapp" ? "whatsapp" : "sms" };
  if (target.to && target.to.startsWith("+")) body.to = target.to;
  if (target.provider) body.provider = target.provider;
  return body;
}

/** The preview; a number still being typed (refused) is left out, so only the price waits. */
async function fetchPreview(body) {
  try {
    return await request("/api/v1/messages/preview", { method: "POST", json: body });
  } catch (error) {
    if (error.field !== "to" || !body.to) throw error;
    const { to: _, ...withoutNumber } = body;
    return request("/api/v1/messages/preview", { method: "POST", json: withoutNumber });
  }
}

export async function updatePreview() {
  const counter = $("composer-counter");
  const text = $("composer-text").value;
  const seq = ++previewSeq;
  const target = composerTarget();
  const extras = target ? extrasOf(target.key) : null;
  const plainSms = target && target.channel === "sms" && !target.mms && !(extras.mediaOpen && extras.mediaUrl.trim());
  if (!target || !plainSms) {
    // Segments only matter for SMS; WhatsApp and MMS just have a length limit.
    showUcs2(null, text);
    const limit = target ? MAX_TEXT[target.channel] || MAX_TEXT.sms : MAX_TEXT.sms;
    const near = text.length > limit * 0.8;
    counter.textContent = text && near ? `${text.length}/${limit} characters` : "";
    counter.className = `composer-counter${near ? " is-warning" : ""}`;
    return;
  }
  let info;
  try {
    info = await fetchPreview(previewBody(target, text));
  } catch {
    return; // the counter is a hint; sending still works without it
  }
  if (seq !== previewSeq) return;
  lastPreview = { text, info };
  const ucs2 = info.encoding === "UCS-2";
  const single = ucs2 ? 70 : 160;
  const perPart = ucs2 ? 67 : 153;
  const capacity = info.segments <= 1 ? single : info.segments * perPart;
  const segments = `${info.segments} segment${info.segments === 1 ? "" : "s"}`;
  counter.replaceChildren(
    part("encoding", info.encoding),
    " · ",
    part("segments", segments),
    " · ",
    part("units", `${info.units}/${capacity}`),
    " · ",
    part("cost", money(info)),
  );
  counter.title = info.unit_price === null ? "" : `${info.unit_price} ${info.currency} per segment${info.country ? ` to ${info.country}` : ""}, ${info.provider}`;
  counter.className = `composer-counter${info.segments > 1 || ucs2 ? " is-warning" : ""}`;
  counter.dataset.encoding = info.encoding;
  counter.dataset.segments = String(info.segments);
  showUcs2(ucs2 ? info : null, text);
}

function part(name, text) {
  const span = el("span", `counter-${name}`, text);
  span.dataset.testid = `counter-${name}`;
  return span;
}

/** The text with each character that forces UCS-2 in a <mark>, and the look-alike button. */
function showUcs2(info, text) {
  const note = $("ucs2-note");
  if (!info || !info.ucs2_characters.length) {
    note.hidden = true;
    return;
  }
  const forcing = new Set(info.ucs2_characters);
  const shown = $("ucs2-text");
  const nodes = [el("span", "ucs2-label", "UCS-2 because of: ")];
  let plain = "";
  for (const char of text) {
    if (!forcing.has(char)) {
      plain += char;
      continue;
    }
    if (plain) nodes.push(document.createTextNode(plain));
    plain = "";
    const mark = el("mark", "ucs2-char", /^\s$/u.test(char) ? "␣" : char);
    mark.title = describeChar(char);
    mark.dataset.testid = "ucs2-char";
    nodes.push(mark);
  }
  if (plain) nodes.push(document.createTextNode(plain));
  shown.replaceChildren(...nodes);
  const button = $("smart-encoding");
  button.hidden = !info.lookalike_text;
  if (info.lookalike_text) {
    const fixes = info.replaceable_characters.map(describeChar).join(" ");
    const after = info.lookalike_segments;
    button.textContent = `Replace ${fixes} with plain characters (${after} segment${after === 1 ? "" : "s"})`;
  }
  note.hidden = false;
}

/** The look-alike replacement, applied to the text the last preview was for. */
export function applyLookalikes() {
  const box = $("composer-text");
  if (!lastPreview || lastPreview.text !== box.value || !lastPreview.info.lookalike_text) return;
  box.value = lastPreview.info.lookalike_text;
  box.dispatchEvent(new Event("input", { bubbles: true }));
  box.focus();
}
