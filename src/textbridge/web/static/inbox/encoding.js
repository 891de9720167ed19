/* textbridge inbox: The composer's live encoding preview. */

import { request } from "./api.js";
import { composerTarget, extrasOf } from "./composer.js";
import { $, MAX_TEXT, PREVIEW_DELAY_MS } from "./state.js";

/* ---------------------------------------------------- encoding preview */

let previewTimer = null;
let previewSeq = 0;

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

export async function updatePreview() {
  const counter = $("composer-counter");
  const text = $("composer-text").value;
  const seq = ++previewSeq;
  const target = composerTarget();
  const extras = target ? extrasOf(target.key) : null;
  const plainSms = target && target.channel === "sms" && !target.mms && !(extras.mediaOpen && extras.mediaUrl.trim());
  if (!text || !plainSms) {
    // Segments only matter for SMS; WhatsApp and MMS just have a length limit.
    const limit = target ? MAX_TEXT[target.channel] || MAX_TEXT.sms : MAX_TEXT.sms;
    const near = text.length > limit * 0.8;
    counter.textContent = text && near ? `${text.length}/${limit} characters` : "";
    counter.className = `composer-counter${near ? " is-warning" : ""}`;
    return;
  }
  let info;
  try {
    info = await request("/api/v1/messages/preview", { method: "POST", json: { text } });
  } catch {
    return; // the counter is a hint; sending still works without it
  }
  if (seq !== previewSeq) return;
  const ucs2 = info.encoding === "UCS-2";
  const single = ucs2 ? 70 : 160;
  const perPart = ucs2 ? 67 : 153;
  const capacity = info.segments <= 1 ? single : info.segments * perPart;
  const segments = `${info.segments} segment${info.segments === 1 ? "" : "s"}`;
  let summary = `${info.encoding} · ${segments} · ${info.units}/${capacity}`;
  if (ucs2 && info.ucs2_characters.length) {
    const shown = info.ucs2_characters.slice(0, 6).map(describeChar).join(" ");
    const more = info.ucs2_characters.length > 6 ? ` and ${info.ucs2_characters.length - 6} more` : "";
    summary += ` · UCS-2 because of ${shown}${more}`;
  }
  counter.textContent = summary;
  counter.className = `composer-counter${info.segments > 1 || ucs2 ? " is-warning" : ""}`;
}
