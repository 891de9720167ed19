/* textbridge inbox: Delivery ticks on outbound messages, the remedy for a failed one, and the
 * actions on it: Retry (a failed message is sent again as a new message; the old one keeps its
 * history) and, for an admin, the review of an `unknown` one (resend it, or close it as sent or
 * as never sent: the provider may have it, so only a person who checked decides). */

import { idempotencyKey, request } from "./api.js";
import { el } from "./dom.js";


const IS_ADMIN = document.body.dataset.admin === "true";

/** Status -> [tick, its spoken name]. Queued: a clock; sent: one tick; delivered: two; read: two, coloured. */
const TICKS = {
  accepted: ["queued", "Queued"],
  scheduled: ["queued", "Queued"],
  held: ["queued", "Queued"],
  sending: ["queued", "Queued"],
  submitted: ["queued", "Queued"],
  sent: ["sent", "Sent"],
  delivered: ["delivered", "Delivered"],
  read: ["read", "Read"],
};
const TICK_GLYPHS = { queued: "◷", sent: "✓", delivered: "✓✓", read: "✓✓" };

/* What to do about a failure, by `provider:code`, then by code, then by words of the reason.
 * Plivo's codes: plivo.com/docs/sms/api/message#sms-error-codes; Vonage's: the Messages API's
 * x-errors; ours: closed_unsent (a reviewer closed it), outside_whatsapp_window. */
const REMEDIES = {
  "plivo:10": "The text or media was refused as invalid: check it, then retry.",
  "plivo:20": "A network problem on the way: retry.",
  "plivo:30": "The carrier took it for spam: reword it (no link shorteners, no all-caps), then retry.",
  "plivo:40": "Our number cannot send here: pick another sender, or check the number's registration.",
  "plivo:50": "The number is invalid: check it with the contact.",
  "plivo:200": "Our number is blocked by the carrier: send from another number and contact Plivo.",
  "plivo:300": "The phone is unreachable or blocks us: retry later, or reach the contact another way.",
  "plivo:340": "Outside the WhatsApp window, or the template is not approved: send an approved template.",
  "plivo:350": "The template's parameters do not match it: check them, then send again.",
  "plivo:420": "It expired before the phone was reachable: retry when the contact is likely online.",
  "plivo:900": "The provider account is out of credit: top it up, then retry.",
  "plivo:1000": "The provider gave no reason: retry once; if it fails again, ask the provider.",
  "vonage:1020": "A parameter was refused: check the text and media, then retry.",
  "vonage:1022": "The template or its parameters are invalid: check them, then send again.",
  "vonage:1050": "The number is barred and cannot receive messages: reach the contact another way.",
  "vonage:1250": "No route to this number: retry later, or send through another provider.",
  "vonage:1260": "The phone is unreachable: retry later, or reach the contact another way.",
  "vonage:1340": "Outside the WhatsApp window: send an approved template instead.",
  closed_unsent: "A reviewer found it never left: retry to send it again.",
  outside_whatsapp_window: "Outside the WhatsApp window: send an approved template instead.",
};
const REASON_WORDS = [
  [/opt(ed)?[- ]?out|unsubscribed|consent/i, "The contact opted out: do not retry unless they opt in again."],
  [/credit|balance|funds/i, "The provider account is out of credit: top it up, then retry."],
  [/window/i, "Outside the WhatsApp window: send an approved template instead."],
  [/invalid.*(number|destination|recipient)|(number|destination).*invalid/i, "The number is invalid: check it with the contact."],
  [/unreachable|unroutable|blocked/i, "The phone cannot be reached: retry later, or reach the contact another way."],
  [/timeout|network|temporar/i, "A temporary problem: retry."],
];
const DEFAULT_REMEDY = "Retry; if it fails again, check the number and the provider's dashboard.";
const UNKNOWN_REMEDY = "The provider may or may not have it. Check its dashboard, then resend it or close it.";
const UNKNOWN_AGENT_REMEDY = "The provider may or may not have it: ask an admin to review it before sending again.";

export function remedyOf(message) {
  if (message.status === "unknown") return IS_ADMIN ? UNKNOWN_REMEDY : UNKNOWN_AGENT_REMEDY;
  const code = message.error_code || "";
  const known = REMEDIES[`${message.provider}:${code}`] || REMEDIES[code];
  if (known) return known;
  const reason = message.error_message || "";
  const matched = REASON_WORDS.find(([pattern]) => pattern.test(reason));
  return matched ? matched[1] : DEFAULT_REMEDY;
}

/** The ticks of an outbound message (null for a failed or unknown one: its chip says it). */
export function ticksNode(message) {
  const tick = TICKS[message.status];
  if (!tick) return null;
  const [name, spoken] = tick;
  const node = el("span", `ticks ticks-${name}`, TICK_GLYPHS[name]);
  node.dataset.testid = "message-ticks";
  node.dataset.tick = name;
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", spoken);
  node.title = spoken;
  return node;
}

/** The remedy and the actions under a failed or unknown message; hidden otherwise. */
export function paintFix(node, message, failed) {
  let fix = node._parts.fix;
  if (!fix) {
    fix = el("div", "message-fix");
    fix.dataset.testid = "message-fix";
    node.append(fix);
    node._parts.fix = fix;
  }
  const signature = failed ? `${message.status}|${message.error_code}|${message.error_message}` : "";
  if (fix.dataset.signature === signature) return;
  fix.dataset.signature = signature;
  fix.hidden = !failed;
  if (!failed) {
    fix.replaceChildren();
    return;
  }
  const remedy = el("p", "message-remedy", remedyOf(message));
  remedy.dataset.testid = "message-remedy";
  fix.replaceChildren(remedy, ...actionsOf(message));
}

function actionsOf(message) {
  if (message.status === "unknown") {
    if (!IS_ADMIN) return [];
    return [
      actionButton("Resend", "review-resend", () => review(message, "resend")),
      actionButton("It was sent", "review-sent", () => review(message, "close", { resolution: "sent" })),
      actionButton("It never left", "review-not-sent", () => review(message, "close", { resolution: "not_sent" })),
    ];
  }
  if (!canRetry(message)) return [];
  return [actionButton("Retry", "message-retry", () => retry(message))];
}

function actionButton(label, testid, action) {
  const button = el("button", "button button-ghost button-small", label);
  button.type = "button";
  button.dataset.testid = testid;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      showFixError(button, error);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function showFixError(button, error) {
  const fix = button.closest(".message-fix");
  let note = fix.querySelector(".message-fix-error");
  if (!note) {
    note = el("p", "field-error message-fix-error");
    note.setAttribute("role", "alert");
    fix.append(note);
  }
  note.textContent = `Could not do that: ${error.message}`;
}

/** Whether a failed message still has content to send again (retention and erasure clear it). */
export function canRetry(message) {
  const hasMedia = (message.media || []).some((item) => item.url);
  return Boolean(message.text || hasMedia || message.template || message.interactive || message.location);
}

/** The server copies the content, so a template, interactive or location message goes again
 * exactly as it was (the same template values, the same coordinates). */
async function retry(message) {
  const sent = await request(`/api/v1/messages/${encodeURIComponent(message.id)}/retry`, {
    method: "POST",
    headers: { "Idempotency-Key": idempotencyKey() },
  });
  document.dispatchEvent(new CustomEvent("inbox:message", { detail: sent }));
}

async function review(message, action, json) {
  const path = `/api/v1/messages/${encodeURIComponent(message.id)}/${action}`;
  const updated = await request(path, { method: "POST", json: json || {} });
  document.dispatchEvent(new CustomEvent("inbox:message", { detail: updated }));
}

export { IS_ADMIN };
