/* textbridge inbox: Time formatting and DOM helpers: elements, icons, avatars, phone numbers, media types. */

import { $ } from "./state.js";

/* ------------------------------------------------------------------ time */

export const fmtTime = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
export const fmtWeekday = new Intl.DateTimeFormat(undefined, { weekday: "short" });
export const fmtDayMonth = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
export const fmtDate = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
export const fmtDayHeading = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
export const fmtFull = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
export const fmtMoment = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "numeric", minute: "2-digit" });

/** API times are UTC; a time without an offset (SQLite) is read as UTC, not local. */
export function parseTime(value) {
  if (!value) return null;
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/.test(value);
  const date = new Date(hasZone ? value : `${value}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate());
}

export function daysAgo(date) {
  return Math.round((startOfDay(new Date()) - startOfDay(date)) / 86400000);
}

export function listTime(date) {
  const days = daysAgo(date);
  if (days <= 0) return fmtTime.format(date);
  if (days === 1) return "Yesterday";
  if (days < 7) return fmtWeekday.format(date);
  if (date.getFullYear() === new Date().getFullYear()) return fmtDayMonth.format(date);
  return fmtDate.format(date);
}

export function dayHeading(date) {
  const days = daysAgo(date);
  if (days <= 0) return "Today";
  if (days === 1) return "Yesterday";
  if (date.getFullYear() === new Date().getFullYear()) return fmtDayHeading.format(date);
  return fmtDate.format(date);
}

/** "3 h 12 min", "42 min", "less than a minute"; days past 48 hours. */
export function duration(ms) {
  const minutes = Math.floor(Math.max(ms, 0) / 60000);
  if (minutes < 1) return "less than a minute";
  const hours = Math.floor(minutes / 60);
  if (hours >= 48) return `${Math.floor(hours / 24)} days`;
  if (hours === 0) return `${minutes} min`;
  return `${hours} h ${minutes % 60} min`;
}

export function timeElement(date, text, className) {
  const el = document.createElement("time");
  if (className) el.className = className;
  if (date) {
    el.dateTime = date.toISOString();
    el.title = fmtFull.format(date);
    el.textContent = text;
  }
  return el;
}

/* --------------------------------------------------------------- display */

export const STATUS = {
  accepted: ["pending", "Queued", "Stored; waiting to be sent."],
  scheduled: ["pending", "Scheduled", "Scheduled to be sent later."],
  held: ["pending", "Held", "Held (quiet hours); it will be sent later."],
  sending: ["pending", "Sending", "Being handed to the provider."],
  submitted: ["pending", "Submitted", "The provider accepted it; waiting for the carrier."],
  sent: ["sent", "Sent", "Sent to the carrier; waiting for the handset."],
  delivered: ["delivered", "Delivered", "Delivered to the handset."],
  read: ["delivered", "Read", "Read by the contact."],
  failed: ["failed", "Failed", "Not sent."],
  undelivered: ["failed", "Undelivered", "The carrier could not deliver it."],
  rejected: ["failed", "Rejected", "Refused by the provider."],
  cancelled: ["failed", "Cancelled", "Not sent: its campaign was cancelled."],
  unknown: ["unknown", "Needs review", "The outcome is uncertain, so it was not resent automatically. Check before sending again."],
  received: ["received", "Received", "Received."],
};

export const CHANNELS = { sms: "SMS", mms: "MMS", whatsapp: "WhatsApp" };
export const KINDS = { image: "Image", sticker: "Sticker", audio: "Audio", video: "Video", file: "File" };

export function statusInfo(message) {
  const [tone, label, help] = STATUS[message.status] || ["pending", message.status, ""];
  let title = help;
  if (message.leaves_at && (message.status === "scheduled" || message.status === "held")) {
    const why = message.status === "held" ? "held for the contact's quiet hours" : "scheduled";
    title = `${label}: ${why}; it leaves ${fmtFull.format(new Date(message.leaves_at))}.`;
  }
  if (message.error_code || message.error_message) {
    const code = message.error_code ? ` (code ${message.error_code})` : "";
    title = `${label}: ${message.error_message || "no reason given"}${code}`;
  }
  return { tone, label, title };
}

/** North American numbers read as "+1 415 555 0100"; others stay in E.164. */
export function formatPhone(number) {
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(number || "");
  return nanp ? `+1 ${nanp[1]} ${nanp[2]} ${nanp[3]}` : number || "";
}

export function compactPhone(raw) {
  return (raw || "").replace(/[\s().-]/g, "");
}

/** What the contact is called by address: a number, a short code, a sender ID or a WhatsApp id. */
export const ADDRESS_KINDS = {
  short_code: "short code",
  alphanumeric: "sender ID",
  whatsapp_bsuid: "WhatsApp user ID",
  erased: "erased contact",
};

export function contactAddress(conversation) {
  return formatPhone(conversation.contact_address);
}

/** "short code", "sender ID", "WhatsApp user ID"; nothing for a phone number. */
export function addressKindName(conversation) {
  return ADDRESS_KINDS[conversation.contact_address_kind] || "";
}

export function displayName(conversation) {
  return conversation.contact_name || contactAddress(conversation);
}

export function initials(conversation) {
  const name = (conversation.contact_name || "").trim();
  if (name) {
    const parts = name.split(/\s+/).filter(Boolean);
    const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : parts[0].slice(0, 2);
    return letters.toUpperCase();
  }
  return "";
}

export function hue(text) {
  let hash = 0;
  for (const char of text || "") hash = (hash * 31 + char.codePointAt(0)) % 360;
  return hash;
}

export function paintAvatar(el, conversation) {
  const letters = initials(conversation);
  el.textContent = letters;
  el.classList.toggle("avatar-anonymous", !letters);
  el.style.setProperty("--avatar-hue", String(hue(conversation.contact_address)));
}

export function providerName(provider) {
  return provider ? provider.charAt(0).toUpperCase() + provider.slice(1) : "";
}

export function channelName(channel) {
  return CHANNELS[channel] || (channel || "").toUpperCase();
}

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export const SVG_NS = "http://www.w3.org/2000/svg";
export const ICONS = {
  image: "M4 3h8a1.5 1.5 0 0 1 1.5 1.5v7A1.5 1.5 0 0 1 12 13H4a1.5 1.5 0 0 1-1.5-1.5v-7A1.5 1.5 0 0 1 4 3zM2.5 11l3.5-3.5 3 3 1.5-1.5 3 3M10.5 5.3a.9.9 0 1 0 0 1.8.9.9 0 0 0 0-1.8z",
  audio: "M6 12V3.5l7-1.5v8.5M6 12a1.75 1.75 0 1 1-3.5 0A1.75 1.75 0 0 1 6 12zM13 10.5a1.75 1.75 0 1 1-3.5 0 1.75 1.75 0 0 1 3.5 0z",
  video: "M3.5 4h6A1.5 1.5 0 0 1 11 5.5v5A1.5 1.5 0 0 1 9.5 12h-6A1.5 1.5 0 0 1 2 10.5v-5A1.5 1.5 0 0 1 3.5 4zM11 7l3-2v6l-3-2",
  file: "M4.5 1.5h4.7L12.5 5v8a1.5 1.5 0 0 1-1.5 1.5H4.5A1.5 1.5 0 0 1 3 13V3a1.5 1.5 0 0 1 1.5-1.5zM9 1.5V5h3.5M5.5 8.5h5M5.5 11h3.5",
  pin: "M8 14.5s4.5-4.1 4.5-7.6a4.5 4.5 0 0 0-9 0c0 3.5 4.5 7.6 4.5 7.6zM8 5.2a1.7 1.7 0 1 0 0 3.4 1.7 1.7 0 0 0 0-3.4z",
  template: "M4 2h8a1.5 1.5 0 0 1 1.5 1.5v9A1.5 1.5 0 0 1 12 14H4a1.5 1.5 0 0 1-1.5-1.5v-9A1.5 1.5 0 0 1 4 2zM5.5 5.5h5M5.5 8h5M5.5 10.5h3",
  reply: "M6.5 4 2.5 8l4 4M2.5 8h7a4 4 0 0 1 4 4v.5",
  whatsapp: "M8 1.8a6.2 6.2 0 0 0-5.3 9.4L1.8 14.2l3.1-.9A6.2 6.2 0 1 0 8 1.8zM6 5.2c.3 1.9 2.4 4.3 4.8 4.8",
  sms: "M3.5 2.5h9A1.5 1.5 0 0 1 14 4v6a1.5 1.5 0 0 1-1.5 1.5H7l-3.5 2.5v-2.5a1.5 1.5 0 0 1-1.5-1.5V4a1.5 1.5 0 0 1 1.5-1.5z",
  list: "M5.5 4.5h8M5.5 8h8M5.5 11.5h8M2.5 4.5h.01M2.5 8h.01M2.5 11.5h.01",
};

export function icon(name, className = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name] || ICONS.file);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.4");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

export function channelBadge(channel) {
  const name = channel === "whatsapp" ? "whatsapp" : "sms";
  const badge = el("span", `channel-badge channel-${name}`);
  badge.dataset.channel = channel;
  badge.append(icon(name, "channel-icon"), el("span", null, channelName(channel)));
  return badge;
}

export function announce(text) {
  const announcer = $("announcer");
  announcer.textContent = "";
  window.setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

/** A URL that may be linked to or loaded: http(s) only, never `javascript:` and the like. */
export function safeUrl(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === "https:" || url.protocol === "http:" ? url : null;
  } catch {
    return null;
  }
}

export function fileNameOf(url) {
  const last = url.pathname.split("/").filter(Boolean).pop() || "";
  try {
    return decodeURIComponent(last) || url.hostname;
  } catch {
    return last || url.hostname;
  }
}

export const EXTENSIONS = {
  jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", webp: "image/webp",
  mp4: "video/mp4", "3gp": "video/3gpp", mp3: "audio/mpeg", ogg: "audio/ogg", amr: "audio/amr",
  aac: "audio/aac", pdf: "application/pdf", txt: "text/plain",
};

export function mimeOf(rawUrl, fallback = "image/jpeg") {
  const url = safeUrl(rawUrl);
  const match = url && /\.([a-z0-9]+)$/i.exec(url.pathname);
  return (match && EXTENSIONS[match[1].toLowerCase()]) || fallback;
}

export function kindOf(mime) {
  if (mime === "image/webp") return "sticker";
  const major = (mime || "").split("/")[0];
  return ["image", "audio", "video"].includes(major) ? major : "file";
}

/** Previews of media, templates and locations arrive as "[image]", "[template x]". */
export function prettyPreview(preview) {
  if (!preview) return "No messages yet";
  const template = /^\[template (.+)\]$/.exec(preview);
  if (template) return `Template: ${template[1]}`;
  const kinds = /^\[((?:image|audio|video|file|sticker)(?:, (?:image|audio|video|file|sticker))*)\]$/.exec(preview);
  if (kinds) return kinds[1].split(", ").map((kind) => KINDS[kind]).join(", ");
  const other = /^\[(location|interactive|unsupported)\]$/.exec(preview);
  if (other) return { location: "Location", interactive: "Interactive message", unsupported: "Unsupported message" }[other[1]];
  return preview;
}
