/* textbridge inbox: plain JavaScript, no framework, no build step.
 *
 * The page uses the same JSON API and event stream as any application. It subscribes to
 * /api/v1/events first and loads the senders, templates, conversation list and the open thread
 * once the stream is `ready`, so nothing is missed on start-up. After a reconnect the server
 * replays what was missed (Last-Event-ID); when it cannot, it says `reset` and the page loads
 * everything again. All user text is rendered with textContent, never as HTML; links to media
 * are only ever http(s) URLs.
 *
 * Channels: a conversation is SMS (MMS travels in the same thread, from the same number) or
 * WhatsApp. WhatsApp allows free-form messages only within 24 hours of the contact's last
 * message (`window_expires_at`); outside it the composer offers approved templates instead.
 */
(() => {
  "use strict";

  const SANDBOX = document.body.dataset.sandbox === "true";
  const SANDBOX_NUMBER = document.body.dataset.sandboxNumber || "";
  const HEADERS = {
    Accept: "application/json",
    "X-Requested-With": "textbridge",
    // The session's CSRF token: every write the cookie authorises must carry it.
    "X-CSRF-Token": document.body.dataset.csrf || "",
  };
  const LIST_PAGE = 100;
  const THREAD_PAGE = 100;
  const PREVIEW_DELAY_MS = 180;
  const WINDOW_TICK_MS = 15000;
  const MAX_TEXT = { sms: 1600, whatsapp: 4096 };

  const $ = (id) => document.getElementById(id);

  /* ------------------------------------------------------------------ state */

  const state = {
    conversations: new Map(), // id -> conversation JSON
    listHasMore: false,
    selected: null, // a conversation id, "new", or null
    messages: new Map(), // id -> message JSON, for the open conversation only
    threadHasEarlier: false,
    threadLoading: 0, // a token: a stale load never overwrites a newer selection
    drafts: new Map(), // conversation id (or "new") -> unsent text
    extras: new Map(), // conversation id (or "new") -> media URL, template choice and values
    sending: false,
    pendingSend: null, // {fingerprint, key}: a retry of the same send reuses its key
    filter: "",
    readInFlight: new Set(),
    lastUnread: new Map(), // conversation id -> unread count, to announce new arrivals
    senders: [], // our numbers: {id, provider, channel, address}
    templates: [], // WhatsApp templates: {name, language, category, status, components, parameters}
    templatesLoaded: false,
    templatesVersion: 0, // bumped on every load, so template cards and the picker refresh
    windowState: null, // the window state last shown, to notice it closing while on screen
    windowFor: null, // ... and for which conversation
  };

  /* -------------------------------------------------------------------- API */

  class ApiError extends Error {
    constructor(status, code, message, field, details = {}) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
      this.details = details;
    }
  }

  async function request(path, { method = "GET", json, headers = {} } = {}) {
    const init = { method, headers: { ...HEADERS, ...headers }, credentials: "same-origin" };
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, "network", "Could not reach textbridge. Check the connection and try again.", null);
    }
    if (response.status === 401 && path.startsWith("/api/")) {
      window.location.assign("/login");
      throw new ApiError(401, "unauthorized", "Your session has ended. Please sign in again.", null);
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      throw errorOf(response.status, data);
    }
    return data;
  }

  function errorOf(status, data) {
    const error = data && data.error;
    if (error && typeof error === "object") {
      const { code, message, field, ...details } = error;
      return new ApiError(status, code || "error", message || `Request failed (HTTP ${status}).`, field || null, details);
    }
    if (typeof error === "string") {
      return new ApiError(status, "error", error, null);
    }
    if (data && Array.isArray(data.detail) && data.detail.length) {
      // FastAPI's own validation answer (the simulator's control API).
      const first = data.detail[0];
      const where = (first.loc || []).filter((part) => part !== "body").join(".");
      return new ApiError(status, "validation_error", where ? `${where}: ${first.msg}` : String(first.msg), where || null);
    }
    return new ApiError(status, "error", `Request failed (HTTP ${status}).`, null);
  }

  function idempotencyKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /* ------------------------------------------------------------------ time */

  const fmtTime = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  const fmtWeekday = new Intl.DateTimeFormat(undefined, { weekday: "short" });
  const fmtDayMonth = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
  const fmtDate = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
  const fmtDayHeading = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
  const fmtFull = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
  const fmtMoment = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "numeric", minute: "2-digit" });

  /** API times are UTC; a time without an offset (SQLite) is read as UTC, not local. */
  function parseTime(value) {
    if (!value) return null;
    const hasZone = /(Z|[+-]\d\d:?\d\d)$/.test(value);
    const date = new Date(hasZone ? value : `${value}Z`);
    return Number.isNaN(date.getTime()) ? null : date;
  }

  function startOfDay(date) {
    return new Date(date.getFullYear(), date.getMonth(), date.getDate());
  }

  function daysAgo(date) {
    return Math.round((startOfDay(new Date()) - startOfDay(date)) / 86400000);
  }

  function listTime(date) {
    const days = daysAgo(date);
    if (days <= 0) return fmtTime.format(date);
    if (days === 1) return "Yesterday";
    if (days < 7) return fmtWeekday.format(date);
    if (date.getFullYear() === new Date().getFullYear()) return fmtDayMonth.format(date);
    return fmtDate.format(date);
  }

  function dayHeading(date) {
    const days = daysAgo(date);
    if (days <= 0) return "Today";
    if (days === 1) return "Yesterday";
    if (date.getFullYear() === new Date().getFullYear()) return fmtDayHeading.format(date);
    return fmtDate.format(date);
  }

  /** "3 h 12 min", "42 min", "less than a minute"; days past 48 hours. */
  function duration(ms) {
    const minutes = Math.floor(Math.max(ms, 0) / 60000);
    if (minutes < 1) return "less than a minute";
    const hours = Math.floor(minutes / 60);
    if (hours >= 48) return `${Math.floor(hours / 24)} days`;
    if (hours === 0) return `${minutes} min`;
    return `${hours} h ${minutes % 60} min`;
  }

  function timeElement(date, text, className) {
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

  const STATUS = {
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

  const CHANNELS = { sms: "SMS", mms: "MMS", whatsapp: "WhatsApp" };
  const KINDS = { image: "Image", sticker: "Sticker", audio: "Audio", video: "Video", file: "File" };

  function statusInfo(message) {
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
  function formatPhone(number) {
    const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(number || "");
    return nanp ? `+1 ${nanp[1]} ${nanp[2]} ${nanp[3]}` : number || "";
  }

  function compactPhone(raw) {
    return (raw || "").replace(/[\s().-]/g, "");
  }

  /** What the contact is called by address: a number, a short code, a sender ID or a WhatsApp id. */
  const ADDRESS_KINDS = {
    short_code: "short code",
    alphanumeric: "sender ID",
    whatsapp_bsuid: "WhatsApp user ID",
    erased: "erased contact",
  };

  function contactAddress(conversation) {
    return formatPhone(conversation.contact_address);
  }

  /** "short code", "sender ID", "WhatsApp user ID"; nothing for a phone number. */
  function addressKindName(conversation) {
    return ADDRESS_KINDS[conversation.contact_address_kind] || "";
  }

  function displayName(conversation) {
    return conversation.contact_name || contactAddress(conversation);
  }

  function initials(conversation) {
    const name = (conversation.contact_name || "").trim();
    if (name) {
      const parts = name.split(/\s+/).filter(Boolean);
      const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : parts[0].slice(0, 2);
      return letters.toUpperCase();
    }
    return "";
  }

  function hue(text) {
    let hash = 0;
    for (const char of text || "") hash = (hash * 31 + char.codePointAt(0)) % 360;
    return hash;
  }

  function paintAvatar(el, conversation) {
    const letters = initials(conversation);
    el.textContent = letters;
    el.classList.toggle("avatar-anonymous", !letters);
    el.style.setProperty("--avatar-hue", String(hue(conversation.contact_address)));
  }

  function providerName(provider) {
    return provider ? provider.charAt(0).toUpperCase() + provider.slice(1) : "";
  }

  function channelName(channel) {
    return CHANNELS[channel] || (channel || "").toUpperCase();
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  const ICONS = {
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

  function icon(name, className = "icon") {
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

  function channelBadge(channel) {
    const name = channel === "whatsapp" ? "whatsapp" : "sms";
    const badge = el("span", `channel-badge channel-${name}`);
    badge.dataset.channel = channel;
    badge.append(icon(name, "channel-icon"), el("span", null, channelName(channel)));
    return badge;
  }

  function announce(text) {
    const announcer = $("announcer");
    announcer.textContent = "";
    window.setTimeout(() => {
      announcer.textContent = text;
    }, 50);
  }

  /** A URL that may be linked to or loaded: http(s) only, never `javascript:` and the like. */
  function safeUrl(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "https:" || url.protocol === "http:" ? url : null;
    } catch {
      return null;
    }
  }

  function fileNameOf(url) {
    const last = url.pathname.split("/").filter(Boolean).pop() || "";
    try {
      return decodeURIComponent(last) || url.hostname;
    } catch {
      return last || url.hostname;
    }
  }

  const EXTENSIONS = {
    jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", webp: "image/webp",
    mp4: "video/mp4", "3gp": "video/3gpp", mp3: "audio/mpeg", ogg: "audio/ogg", amr: "audio/amr",
    aac: "audio/aac", pdf: "application/pdf", txt: "text/plain",
  };

  function mimeOf(rawUrl, fallback = "image/jpeg") {
    const url = safeUrl(rawUrl);
    const match = url && /\.([a-z0-9]+)$/i.exec(url.pathname);
    return (match && EXTENSIONS[match[1].toLowerCase()]) || fallback;
  }

  function kindOf(mime) {
    if (mime === "image/webp") return "sticker";
    const major = (mime || "").split("/")[0];
    return ["image", "audio", "video"].includes(major) ? major : "file";
  }

  /** Previews of media, templates and locations arrive as "[image]", "[template x]". */
  function prettyPreview(preview) {
    if (!preview) return "No messages yet";
    const template = /^\[template (.+)\]$/.exec(preview);
    if (template) return `Template: ${template[1]}`;
    const kinds = /^\[((?:image|audio|video|file|sticker)(?:, (?:image|audio|video|file|sticker))*)\]$/.exec(preview);
    if (kinds) return kinds[1].split(", ").map((kind) => KINDS[kind]).join(", ");
    const other = /^\[(location|interactive|unsupported)\]$/.exec(preview);
    if (other) return { location: "Location", interactive: "Interactive message", unsupported: "Unsupported message" }[other[1]];
    return preview;
  }

  /* ----------------------------------------------------------------- senders */

  /** A sender choice, as the value of an <option>: "plivo/sms/+14155550100". */
  function choiceValue(provider, channel, address) {
    return `${provider}/${channel}/${address}`;
  }

  function parseChoice(value) {
    const [provider, channel, ...rest] = (value || "").split("/");
    return provider && channel && rest.length ? { provider, channel, address: rest.join("/") } : null;
  }

  function senderLabel(channel, provider, address) {
    return `${channelName(channel)} · ${providerName(provider)} · ${formatPhone(address)}`;
  }

  function option(value, text, { disabled = false } = {}) {
    const node = el("option", null, text);
    node.value = value;
    node.disabled = disabled;
    return node;
  }

  async function loadSenders() {
    state.senders = (await request("/api/v1/senders")) || [];
    renderSenderPicker();
    renderSimulatorRoutes();
  }

  function renderSenderPicker() {
    const picker = $("sender-picker");
    const previous = picker.value;
    const groups = [
      ["SMS", (s) => s.channel === "sms", "sms"],
      ["MMS · text with media, from an SMS number", (s) => s.channel === "sms", "mms"],
      ["WhatsApp", (s) => s.channel === "whatsapp", "whatsapp"],
    ];
    const nodes = [];
    for (const [label, wanted, channel] of groups) {
      const senders = state.senders.filter(wanted);
      if (!senders.length) continue;
      const group = el("optgroup");
      group.label = label;
      for (const s of senders) {
        group.append(option(choiceValue(s.provider, channel, s.address), senderLabel(channel, s.provider, s.address)));
      }
      nodes.push(group);
    }
    picker.replaceChildren(...nodes);
    const values = Array.from(picker.options, (o) => o.value);
    const first = state.senders[0];
    picker.value = values.includes(previous) ? previous : first ? choiceValue(first.provider, first.channel, first.address) : "";
    const none = state.senders.length === 0;
    $("sender-field").hidden = none;
    $("sender-label").hidden = none;
    renderSenderHelp();
  }

  function renderSenderHelp() {
    const choice = parseChoice($("sender-picker").value);
    const help = {
      sms: "Plain text. Long messages are split into segments.",
      mms: "Text with a picture or other media, sent from this SMS number.",
      whatsapp: "A new WhatsApp conversation starts with an approved template.",
    };
    $("sender-help").textContent = choice ? help[choice.channel] || "" : "";
  }

  /* ----------------------------------------------------------------- templates */

  const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

  async function loadTemplates() {
    state.templates = (await request("/api/v1/templates")) || [];
    state.templatesLoaded = true;
    state.templatesVersion += 1;
    if (state.selected) {
      renderComposer();
      renderThread();
    }
  }

  function findTemplate(name, language) {
    return state.templates.find((t) => t.name === name && t.language === language) || null;
  }

  function componentOf(definition, type) {
    return (definition.components || []).find((c) => String(c.type).toUpperCase() === type) || null;
  }

  function placeholders(text) {
    return Array.from(String(text || "").matchAll(PLACEHOLDER), (match) => match[1]);
  }

  /** Example values from the definition, shown as placeholders in the parameter inputs. */
  function exampleValues(definition) {
    const examples = {};
    const body = componentOf(definition, "BODY");
    const example = (body && body.example) || {};
    const positional = (example.body_text && example.body_text[0]) || [];
    placeholders(body && body.text).forEach((name, index) => {
      if (positional[index] !== undefined) examples[name] = String(positional[index]);
    });
    for (const named of example.body_text_named_params || []) {
      if (named && named.param_name) examples[named.param_name] = String(named.example ?? "");
    }
    const header = componentOf(definition, "HEADER");
    if (header && header.example) {
      const text = header.example.header_text;
      placeholders(header.text).forEach((name, index) => {
        if (text && text[index] !== undefined) examples[name] = String(text[index]);
      });
    }
    return examples;
  }

  function parameterLabel(name) {
    if (name === "header") return "Header media URL";
    const button = /^button_(\d+)$/.exec(name);
    if (button) return `Button ${Number(button[1]) + 1} link`;
    return `{{${name}}}`;
  }

  /** Text with its {{placeholders}} filled in (values highlighted, missing ones marked). */
  function filledText(className, text, values) {
    const node = el("p", className);
    let last = 0;
    for (const match of String(text).matchAll(PLACEHOLDER)) {
      node.append(document.createTextNode(text.slice(last, match.index)));
      const value = values[match[1]];
      if (value) {
        node.append(el("span", "template-value", value));
      } else {
        node.append(el("span", "template-slot", match[0]));
      }
      last = match.index + match[0].length;
    }
    node.append(document.createTextNode(String(text).slice(last)));
    return node;
  }

  /** A template as WhatsApp shows it: header, body, footer, buttons; values filled in. */
  function templateCard(name, language, definition, values, fallbackValues = []) {
    const card = el("div", "template-card");
    card.dataset.testid = "template-card";
    card.dataset.template = name;
    const tag = el("p", "template-tag");
    tag.append(icon("template", "template-tag-icon"), el("span", null, "Template"), el("strong", "template-name", name));
    if (language) tag.append(el("span", "template-language", language));
    card.append(tag);
    if (!definition) {
      const summary = fallbackValues.length ? fallbackValues.join(" · ") : "No parameters";
      card.append(el("p", "template-text template-unknown", summary));
      return card;
    }
    const header = componentOf(definition, "HEADER");
    if (header) {
      const format = String(header.format || "TEXT").toUpperCase();
      if (format === "TEXT") {
        card.append(filledText("template-header", header.text || "", values));
      } else {
        const kind = { IMAGE: "image", VIDEO: "video", DOCUMENT: "file" }[format] || "file";
        const media = el("p", "template-header-media");
        const url = values.header ? safeUrl(values.header) : null;
        media.append(icon(kind, "icon"), el("span", null, url ? `${KINDS[kind]} · ${url.hostname}` : `${KINDS[kind]} header`));
        card.append(media);
      }
    }
    const body = componentOf(definition, "BODY");
    if (body) card.append(filledText("template-text", body.text || "", values));
    const footer = componentOf(definition, "FOOTER");
    if (footer && footer.text) card.append(el("p", "template-footer", footer.text));
    const buttons = componentOf(definition, "BUTTONS");
    if (buttons && Array.isArray(buttons.buttons) && buttons.buttons.length) {
      const row = el("div", "template-buttons");
      for (const button of buttons.buttons) row.append(el("span", "template-button", button.text || button.type));
      card.append(row);
    }
    return card;
  }

  /** The values a sent template carried, by parameter name (from Meta's send-time shape). */
  function sentValues(definition, sent) {
    const values = {};
    const list = [];
    const components = Array.isArray(sent.components) ? sent.components : [];
    const parametersOf = (type) => {
      const found = components.find((c) => String(c.type).toLowerCase() === type);
      return (found && Array.isArray(found.parameters) && found.parameters) || [];
    };
    const valueOf = (parameter) => {
      if (parameter.text !== undefined) return String(parameter.text);
      const media = parameter[parameter.type];
      return media && media.link ? String(media.link) : "";
    };
    const assign = (component, type) => {
      const names = component ? placeholders(component.text) : [];
      parametersOf(type).forEach((parameter, index) => {
        const value = valueOf(parameter);
        list.push(value);
        const name = parameter.parameter_name || names[index];
        if (name) values[name] = value;
      });
    };
    const header = definition ? componentOf(definition, "HEADER") : null;
    if (header && String(header.format || "TEXT").toUpperCase() !== "TEXT") {
      const first = parametersOf("header")[0];
      if (first) {
        values.header = valueOf(first);
        list.push(values.header);
      }
    } else {
      assign(header, "header");
    }
    assign(definition ? componentOf(definition, "BODY") : null, "body");
    for (const component of components) {
      if (String(component.type).toLowerCase() === "button" && Array.isArray(component.parameters) && component.parameters[0]) {
        values[`button_${component.index}`] = valueOf(component.parameters[0]);
        list.push(values[`button_${component.index}`]);
      }
    }
    return { values, list };
  }

  /* ------------------------------------------------------ conversation list */

  /** Items of a Map sorted by a time field (ascending, or newest first), then by id. */
  function sortedByTime(items, field, newestFirst) {
    const sign = newestFirst ? -1 : 1;
    return Array.from(items.values()).sort((a, b) => {
      const ta = parseTime(a[field])?.getTime() ?? 0;
      const tb = parseTime(b[field])?.getTime() ?? 0;
      return sign * (ta - tb) || (a.id < b.id ? -1 : 1);
    });
  }

  function sortedConversations() {
    return sortedByTime(state.conversations, "last_message_at", true);
  }

  function matches(conversation) {
    if (!state.filter) return true;
    const haystack = [
      conversation.contact_name,
      conversation.contact_address,
      contactAddress(conversation),
      conversation.last_message_preview,
      channelName(conversation.channel),
    ]
      .filter(Boolean)
      .join(" ")
      .toLowerCase();
    const needle = state.filter.toLowerCase();
    return haystack.includes(needle) || haystack.replace(/[\s()-]/g, "").includes(needle.replace(/[\s()-]/g, ""));
  }

  function renderList() {
    const list = $("conversation-list");
    const focusedId = document.activeElement?.closest?.(".conversation")?.dataset.conversationId;
    const items = sortedConversations().filter(matches);
    list.replaceChildren(...items.map(conversationItem));
    const empty = $("list-empty");
    if (state.conversations.size === 0) {
      empty.textContent = "No conversations yet. Start one with “New conversation”.";
      empty.hidden = false;
    } else if (items.length === 0) {
      empty.textContent = "No conversation matches your search.";
      empty.hidden = false;
    } else {
      empty.hidden = true;
    }
    $("list-more").hidden = !state.listHasMore || Boolean(state.filter);
    if (focusedId) {
      list.querySelector(`[data-conversation-id="${CSS.escape(focusedId)}"]`)?.focus();
    }
    renderTitle();
  }

  function conversationItem(conversation) {
    const li = el("li");
    const button = el("button", "conversation");
    button.type = "button";
    button.dataset.testid = "conversation";
    button.dataset.conversationId = conversation.id;
    button.dataset.phone = conversation.contact_address;
    button.dataset.addressKind = conversation.contact_address_kind || "e164";
    button.dataset.channel = conversation.channel || "sms";
    button.dataset.provider = conversation.provider || "";
    if (state.selected === conversation.id) button.setAttribute("aria-current", "true");
    const unread = conversation.unread_count > 0;
    if (unread) button.classList.add("is-unread");

    const avatar = el("span", "avatar");
    avatar.setAttribute("aria-hidden", "true");
    paintAvatar(avatar, conversation);
    if (conversation.channel === "whatsapp") {
      const mark = el("span", "avatar-channel");
      mark.append(icon("whatsapp", "avatar-channel-icon"));
      avatar.append(mark);
    }

    const main = el("span", "conversation-main");
    const top = el("span", "conversation-top");
    const name = el("span", "conversation-name", displayName(conversation));
    name.dataset.testid = "conversation-name";
    const at = parseTime(conversation.last_message_at);
    top.append(name, timeElement(at, at ? listTime(at) : "", "conversation-time"));
    main.append(top);
    const line = el("span", "conversation-line");
    const via = el("span", "conversation-via", `${channelName(conversation.channel)} · ${providerName(conversation.provider)}`);
    via.dataset.testid = "conversation-channel";
    if (conversation.contact_name) line.append(el("span", "conversation-phone", contactAddress(conversation)));
    if (addressKindName(conversation)) {
      const kind = el("span", "address-kind", addressKindName(conversation));
      kind.dataset.testid = "address-kind";
      line.append(kind);
    }
    line.append(via);
    main.append(line);
    const bottom = el("span", "conversation-bottom");
    const preview = el("span", "conversation-preview", prettyPreview(conversation.last_message_preview));
    preview.dataset.testid = "conversation-preview";
    bottom.append(preview);
    if (unread) {
      const count = conversation.unread_count;
      const badge = el("span", "badge", count > 99 ? "99+" : String(count));
      badge.dataset.testid = "unread-badge";
      badge.setAttribute("aria-hidden", "true");
      const spoken = el("span", "visually-hidden", `, ${count} unread message${count === 1 ? "" : "s"}`);
      bottom.append(badge, spoken);
    }
    main.append(bottom);
    button.append(avatar, main);
    button.addEventListener("click", () => selectConversation(conversation.id, { focusComposer: true }));
    li.append(button);
    return li;
  }

  /** Arrow keys, Home and End move between conversations, as in a list box. */
  function moveThroughList(event) {
    const buttons = Array.from($("conversation-list").querySelectorAll(".conversation"));
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    const next = {
      ArrowDown: Math.min(index + 1, buttons.length - 1),
      ArrowUp: Math.max(index - 1, 0),
      Home: 0,
      End: buttons.length - 1,
    }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    buttons[next].focus();
  }

  function renderTitle() {
    let unread = 0;
    for (const conversation of state.conversations.values()) unread += conversation.unread_count || 0;
    document.title = unread > 0 ? `(${unread}) Inbox · textbridge` : "Inbox · textbridge";
  }

  async function loadConversations() {
    const conversations = await request(`/api/v1/conversations?limit=${LIST_PAGE}`);
    const fresh = new Map(conversations.map((c) => [c.id, c]));
    // Keep older pages already shown (and anything that arrived live meanwhile).
    for (const [id, conversation] of state.conversations) {
      if (!fresh.has(id)) fresh.set(id, conversation);
    }
    state.conversations = fresh;
    if (state.lastUnread.size === 0) {
      for (const c of fresh.values()) state.lastUnread.set(c.id, c.unread_count);
    }
    state.listHasMore = conversations.length === LIST_PAGE;
    renderList();
  }

  async function loadOlderConversations() {
    const oldest = sortedConversations().at(-1);
    if (!oldest) return;
    const before = encodeURIComponent(oldest.last_message_at);
    const page = await request(`/api/v1/conversations?limit=${LIST_PAGE}&before=${before}`);
    for (const conversation of page) state.conversations.set(conversation.id, conversation);
    state.listHasMore = page.length === LIST_PAGE;
    renderList();
  }

  /* ------------------------------------------------------- message content */

  function mediaNode(item, outbound) {
    const url = safeUrl(item.url);
    const kind = KINDS[item.kind] ? item.kind : "file";
    const name = item.filename || (url ? fileNameOf(url) : item.url || "Attachment");
    const host = url ? url.hostname : "";
    const visual = kind === "image" || kind === "sticker";
    const node = el(url ? "a" : "div", `attachment ${visual ? "attachment-visual" : "attachment-file"}`);
    node.dataset.testid = "attachment";
    node.dataset.kind = kind;
    if (url) {
      node.href = url.href;
      node.target = "_blank";
      node.rel = "noopener noreferrer";
      node.setAttribute("referrerpolicy", "no-referrer");
      node.title = `Open ${item.url}`;
    }
    const details = el("span", "attachment-details");
    const nameNode = el("span", "attachment-name", name);
    nameNode.dataset.testid = "attachment-name";
    const meta = [KINDS[kind]];
    if (host) meta.push(host);
    if (item.size) meta.push(`${Math.max(1, Math.round(item.size / 1024))} KB`);
    const metaNode = el("span", "attachment-meta", meta.join(" · "));
    details.append(nameNode, metaNode);
    if (!visual) {
      node.append(icon(kind === "sticker" ? "image" : kind, "attachment-icon"), details);
      return node;
    }
    // A framed placeholder (kind, name, host) that the image covers once it loads; if it
    // cannot load (sandbox hosts do not resolve, the link expired) the frame stays and says so.
    const fallback = el("span", "attachment-fallback");
    const note = el("span", "attachment-note");
    note.dataset.testid = "attachment-note";
    details.append(note);
    fallback.append(icon("image", "attachment-icon"), details);
    node.append(fallback);
    const fail = (why) => {
      node.dataset.state = "failed";
      note.textContent = why;
    };
    if (url && url.protocol === "https:") {
      node.dataset.state = "loading";
      const img = document.createElement("img");
      img.setAttribute("loading", "lazy");
      img.setAttribute("decoding", "async");
      img.setAttribute("referrerpolicy", "no-referrer");
      img.alt = item.caption || name;
      img.addEventListener("load", () => {
        if (img.naturalWidth > 0) node.dataset.state = "loaded";
        else fail("Preview unavailable");
      });
      img.addEventListener("error", () => {
        img.hidden = true;
        fail("Preview unavailable");
      });
      img.src = url.href;
      node.append(img);
    } else {
      fail(url ? "No preview for http:// links" : "Not a web link");
    }
    node.classList.toggle("on-dark", outbound);
    return node;
  }

  function locationNode(location) {
    const lat = Number(location.latitude);
    const lon = Number(location.longitude);
    const valid = Number.isFinite(lat) && Number.isFinite(lon);
    const node = el(valid ? "a" : "div", "location");
    node.dataset.testid = "location";
    if (valid) {
      node.href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
      node.target = "_blank";
      node.rel = "noopener noreferrer";
    }
    const text = el("span", "location-text");
    text.append(el("span", "location-name", location.name || "Shared location"));
    if (location.address) text.append(el("span", "location-address", location.address));
    if (valid) text.append(el("span", "location-coordinates", `${lat.toFixed(5)}, ${lon.toFixed(5)}`));
    node.append(icon("pin", "location-icon"), text);
    return node;
  }

  function interactiveNode(interactive) {
    const node = el("div", "interactive");
    const header = interactive.header && interactive.header.text;
    if (header) node.append(el("p", "interactive-header", header));
    const body = interactive.body && interactive.body.text;
    if (body) {
      const text = el("p", "bubble-text", body);
      text.dataset.testid = "message-text";
      node.append(text);
    }
    const footer = interactive.footer && interactive.footer.text;
    if (footer) node.append(el("p", "template-footer", footer));
    const action = interactive.action || {};
    const row = el("div", "template-buttons");
    for (const button of action.buttons || []) {
      const title = (button.reply && button.reply.title) || button.title || button.text;
      if (title) row.append(el("span", "template-button", title));
    }
    if (action.button && Array.isArray(action.sections)) {
      const list = el("span", "template-button");
      list.append(icon("list", "icon"), document.createTextNode(` ${action.button}`));
      row.append(list);
    }
    if (action.parameters && action.parameters.display_text) {
      row.append(el("span", "template-button", action.parameters.display_text));
    }
    if (row.childElementCount) node.append(row);
    return node;
  }

  /** What a message shows inside its bubble; rebuilt only when its content changes. */
  function contentKey(message) {
    const version = message.content_type === "template" ? state.templatesVersion : 0;
    return JSON.stringify([
      message.content_type, message.text, message.media, message.template, message.interactive,
      message.location, message.reply_id, version,
    ]);
  }

  function paintContent(bubble, message) {
    const outbound = message.direction === "outbound";
    const type = message.content_type || "text";
    const media = Array.isArray(message.media) ? message.media : [];
    const parts = [];
    bubble.className = "bubble";
    if (type === "template" && message.template) {
      const { name, language } = message.template;
      const definition = findTemplate(name, language);
      const { values, list } = sentValues(definition, message.template);
      bubble.classList.add("bubble-card");
      parts.push(templateCard(name, language, definition, values, list));
    } else {
      if (type === "button" || type === "reply") {
        const tag = el("span", "reply-tag");
        tag.dataset.testid = "reply-tag";
        tag.title = message.reply_id ? `Button id: ${message.reply_id}` : "";
        tag.append(icon("reply", "icon"), document.createTextNode("Button reply"));
        parts.push(tag);
        bubble.classList.add("bubble-reply");
      }
      if (media.length) {
        const gallery = el("div", "attachments");
        for (const item of media) gallery.append(mediaNode(item, outbound));
        parts.push(gallery);
        bubble.classList.add("has-media");
        for (const item of media) {
          if (item.caption && item.caption !== message.text) parts.push(el("p", "bubble-caption", item.caption));
        }
      }
      let text = message.text;
      if (type === "location" && message.location) {
        parts.push(locationNode(message.location));
        bubble.classList.add("has-media");
        // Providers also give a location's name and address as its text: shown once, above.
        const { name, address } = message.location;
        if (text === [name, address].filter(Boolean).join(", ")) text = "";
      }
      if (type === "interactive" && message.interactive) {
        parts.push(interactiveNode(message.interactive));
      } else if (text) {
        const node = el("p", "bubble-text", text);
        node.dataset.testid = "message-text";
        parts.push(node);
      }
      if (type === "unsupported") {
        parts.push(el("p", "bubble-note", "This kind of message can't be shown here yet."));
      }
      if (!parts.length) parts.push(el("p", "bubble-note", "Empty message"));
    }
    bubble.replaceChildren(...parts);
  }

  /* ------------------------------------------------------------------ thread */

  const messageNodes = new Map(); // id -> element, reused across renders

  function sortedMessages() {
    return sortedByTime(state.messages, "created_at", false);
  }

  function messageNode(message) {
    let node = messageNodes.get(message.id);
    if (!node) {
      node = el("div", "message");
      node.dataset.testid = "message";
      node.dataset.messageId = message.id;
      const bubble = el("div", "bubble");
      bubble.dataset.testid = "message-bubble";
      const meta = el("div", "message-meta");
      const chip = el("span", "chip");
      chip.dataset.testid = "message-status";
      const problem = el("p", "message-problem");
      problem.dataset.testid = "message-error";
      node.append(bubble, meta, problem);
      node._parts = { bubble, meta, chip, problem, content: null };
      messageNodes.set(message.id, node);
    }
    paintMessage(node, message);
    return node;
  }

  function paintMessage(node, message) {
    const parts = node._parts;
    const { bubble, meta, chip, problem } = parts;
    const outbound = message.direction === "outbound";
    node.className = `message ${outbound ? "message-out" : "message-in"}`;
    node.dataset.direction = message.direction;
    node.dataset.status = message.status;
    node.dataset.contentType = message.content_type || "text";
    const key = contentKey(message);
    if (parts.content !== key) {
      paintContent(bubble, message);
      parts.content = key;
    }
    const at = parseTime(message.created_at);
    const items = [timeElement(at, at ? fmtTime.format(at) : "", "message-time")];
    if (message.channel === "mms") items.push(el("span", "message-channel", "MMS"));
    if (outbound) {
      const info = statusInfo(message);
      chip.className = `chip chip-${info.tone}`;
      chip.dataset.status = message.status;
      chip.textContent = info.label;
      chip.title = info.title;
      if (message.segments && message.segments > 1) {
        items.push(el("span", "message-segments", `${message.segments} segments`));
      }
      items.push(chip);
    }
    meta.replaceChildren(...items);
    const failed = outbound && (statusInfo(message).tone === "failed" || message.status === "unknown");
    if (failed) {
      const info = statusInfo(message);
      problem.textContent = message.status === "unknown" ? STATUS.unknown[2] : info.title;
      problem.hidden = false;
    } else {
      problem.textContent = "";
      problem.hidden = true;
    }
  }

  function nearBottom(scroller) {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function renderThread({ stickToBottom = false } = {}) {
    const scroller = $("messages");
    const wasNearBottom = nearBottom(scroller);
    const items = $("message-items");
    const nodes = [];
    let lastDay = null;
    for (const message of sortedMessages()) {
      const at = parseTime(message.created_at);
      const day = at ? startOfDay(at).getTime() : null;
      if (day !== lastDay) {
        const divider = el("div", "day-divider");
        divider.append(el("span", null, at ? dayHeading(at) : ""));
        divider.setAttribute("role", "separator");
        nodes.push(divider);
        lastDay = day;
      }
      nodes.push(messageNode(message));
    }
    items.replaceChildren(...nodes);
    for (const id of Array.from(messageNodes.keys())) {
      if (!state.messages.has(id)) messageNodes.delete(id);
    }
    const empty = $("messages-empty");
    if (state.selected === "new") {
      empty.textContent = "Enter the contact's number and choose the number to send from above, then write your message below.";
      empty.hidden = false;
    } else if (state.messages.size === 0) {
      empty.textContent = "No messages in this conversation yet.";
      empty.hidden = false;
    } else {
      empty.hidden = true;
    }
    $("earlier").hidden = !state.threadHasEarlier || state.selected === "new";
    if (stickToBottom || wasNearBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  function renderThreadHead() {
    const isNew = state.selected === "new";
    $("thread-identity").hidden = isNew;
    $("recipient").hidden = !isNew;
    $("thread-back").hidden = isNew; // Cancel does that here
    if (isNew) return;
    const conversation = state.conversations.get(state.selected);
    if (!conversation) return;
    paintAvatar($("thread-avatar"), conversation);
    $("thread-title").textContent = displayName(conversation);
    const sub = $("thread-sub");
    const parts = [];
    if (conversation.contact_name) {
      parts.push(el("span", "thread-phone", contactAddress(conversation)));
    }
    if (addressKindName(conversation)) {
      const kind = el("span", "address-kind", addressKindName(conversation));
      kind.dataset.testid = "thread-address-kind";
      parts.push(kind);
    }
    const badge = channelBadge(conversation.channel || "sms");
    badge.dataset.testid = "thread-channel";
    parts.push(badge);
    const via = el("span", "thread-via", `via ${providerName(conversation.provider)} · ${formatPhone(conversation.sender_address)}`);
    via.dataset.testid = "thread-via";
    parts.push(via);
    sub.replaceChildren(...parts);
  }

  function showThread(visible) {
    $("thread").hidden = !visible;
    $("thread-placeholder").hidden = visible;
    $("layout").dataset.view = visible ? "thread" : "list";
  }

  function saveDraft() {
    if (state.selected) state.drafts.set(state.selected, $("composer-text").value);
  }

  function restoreDraft() {
    const box = $("composer-text");
    box.value = state.drafts.get(state.selected) || "";
    $("media-url").value = state.selected ? extrasOf(state.selected).mediaUrl : "";
    autoGrow();
    clearComposerError();
    renderComposer();
    schedulePreview();
  }

  async function selectConversation(id, { focusComposer = false } = {}) {
    if (state.selected !== id) {
      saveDraft();
      state.selected = id;
      state.messages = new Map();
      messageNodes.clear();
      state.threadHasEarlier = false;
      restoreDraft();
    }
    setHash(id);
    showThread(true);
    renderThreadHead();
    renderComposer();
    renderThread({ stickToBottom: true });
    renderList();
    prefillSimulator();
    if (focusComposer) focusComposerField();
    await loadThread(id);
  }

  async function loadThread(id) {
    const token = ++state.threadLoading;
    try {
      if (!state.conversations.has(id)) {
        const conversation = await request(`/api/v1/conversations/${encodeURIComponent(id)}`);
        state.conversations.set(conversation.id, conversation);
        renderList();
      }
      const messages = await request(`/api/v1/conversations/${encodeURIComponent(id)}/messages?limit=${THREAD_PAGE}`);
      if (token !== state.threadLoading || state.selected !== id) return;
      for (const message of messages) mergeMessage(message);
      if (messages.length === THREAD_PAGE && state.messages.size <= THREAD_PAGE) state.threadHasEarlier = true;
      renderThreadHead();
      renderComposer();
      renderThread({ stickToBottom: true });
      markReadIfVisible();
    } catch (error) {
      if (token !== state.threadLoading) return;
      if (error.status === 404 || error.status === 422) {
        clearSelection();
        return;
      }
      showComposerError(`Could not load this conversation: ${error.message}`);
    }
  }

  async function loadEarlier() {
    const id = state.selected;
    const first = sortedMessages()[0];
    if (!first || !id || id === "new") return;
    const scroller = $("messages");
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const before = encodeURIComponent(first.created_at);
    const page = await request(`/api/v1/conversations/${encodeURIComponent(id)}/messages?limit=${THREAD_PAGE}&before=${before}`);
    if (state.selected !== id) return;
    for (const message of page) mergeMessage(message);
    state.threadHasEarlier = page.length === THREAD_PAGE;
    renderThread();
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
  }

  function clearSelection() {
    saveDraft();
    state.selected = null;
    state.messages = new Map();
    messageNodes.clear();
    setHash(null);
    showThread(false);
    renderList();
  }

  /** Keep the newest version of a message (updated_at), whatever order copies arrive in. */
  function mergeMessage(message) {
    const known = state.messages.get(message.id);
    if (known && (parseTime(known.updated_at)?.getTime() ?? 0) > (parseTime(message.updated_at)?.getTime() ?? 0)) {
      return false;
    }
    state.messages.set(message.id, message);
    return true;
  }

  function markReadIfVisible() {
    const id = state.selected;
    const conversation = id && state.conversations.get(id);
    if (!conversation || conversation.unread_count === 0) return;
    if (document.visibilityState !== "visible" || state.readInFlight.has(id)) return;
    state.readInFlight.add(id);
    request(`/api/v1/conversations/${encodeURIComponent(id)}/read`, { method: "POST" })
      .then((updated) => onConversation(updated))
      .catch(() => {})
      .finally(() => state.readInFlight.delete(id));
  }

  /* ---------------------------------------------------------------- composer */

  function extrasOf(key) {
    let extras = state.extras.get(key);
    if (!extras) {
      extras = { mediaUrl: "", mediaOpen: false, useTemplate: false, template: "", values: {} };
      state.extras.set(key, extras);
    }
    return extras;
  }

  /** Where the composer sends: the open conversation, or the recipient and sender picked. */
  function composerTarget() {
    const key = state.selected;
    if (!key) return null;
    if (key === "new") {
      const to = $("recipient-input").value.trim();
      const choice = parseChoice($("sender-picker").value);
      if (!choice) return { key, to, provider: null, channel: "sms", address: null, mms: false, conversation: null };
      const channel = choice.channel === "mms" ? "sms" : choice.channel;
      return {
        key, to, provider: choice.provider, channel, address: choice.address,
        mms: choice.channel === "mms", conversation: findConversation(to, choice.address, channel),
      };
    }
    const conversation = state.conversations.get(key);
    if (!conversation) return null;
    return {
      key, to: conversation.contact_address, provider: conversation.provider, channel: conversation.channel || "sms",
      address: conversation.sender_address, mms: false, conversation,
    };
  }

  function findConversation(to, address, channel) {
    const phone = compactPhone(to);
    if (!phone) return null;
    for (const c of state.conversations.values()) {
      if (c.contact_address === phone && c.sender_address === address && c.channel === channel) return c;
    }
    return null;
  }

  /** The WhatsApp customer-care window: null off WhatsApp; open, closed, or never opened. */
  function windowInfo(target) {
    if (!target || target.channel !== "whatsapp") return null;
    const expires = target.conversation ? parseTime(target.conversation.window_expires_at) : null;
    if (!expires) return { state: "never" };
    const left = expires.getTime() - Date.now();
    return left > 0 ? { state: "open", expires, left } : { state: "closed", expires };
  }

  function usesTemplate(target, info) {
    return Boolean(info) && (info.state !== "open" || extrasOf(target.key).useTemplate);
  }

  function focusComposerField() {
    const target = composerTarget();
    if (target && usesTemplate(target, windowInfo(target))) {
      const select = $("template-select");
      const firstEmpty = Array.from($("template-params").querySelectorAll("input")).find((i) => !i.value);
      if (select.value && firstEmpty) firstEmpty.focus();
      else if (!select.hidden) select.focus();
      else $("template-sync").focus();
    } else {
      $("composer-text").focus();
    }
  }

  /** A conversation no message can be sent to (an alphanumeric sender ID...): say why instead. */
  function renderRefusal(target) {
    const conversation = target.conversation;
    const refused = Boolean(conversation) && conversation.replyable === false;
    const notice = $("composer-refusal");
    notice.hidden = !refused;
    notice.textContent = refused ? `You can't reply here: ${conversation.not_replyable_reason}.` : "";
    $("composer").hidden = refused;
    return refused;
  }

  function renderComposer() {
    const target = composerTarget();
    if (!target) return;
    if (renderRefusal(target)) return;
    const extras = extrasOf(target.key);
    const info = windowInfo(target);
    const templated = usesTemplate(target, info);
    const windowNow = info ? info.state : null;
    if (target.key !== "new" && state.windowFor === target.key && state.windowState && windowNow && windowNow !== state.windowState) {
      announce(windowNow === "open"
        ? "The WhatsApp window is open again: free-form messages can be sent."
        : "The WhatsApp window has closed: only approved templates can be sent now.");
    }
    state.windowFor = target.key;
    state.windowState = windowNow;
    renderWindowState(info, extras);

    $("template-panel").hidden = !templated;
    if (templated) renderTemplatePanel(target.key, extras);

    const mediaOpen = !templated && (extras.mediaOpen || target.mms);
    const media = $("media-draft");
    media.hidden = !mediaOpen;
    $("media-toggle").hidden = templated || mediaOpen;
    $("media-toggle").setAttribute("aria-expanded", String(mediaOpen));
    if ($("media-url").value !== extras.mediaUrl) $("media-url").value = extras.mediaUrl;
    if (mediaOpen) renderMediaHelp(target, extras);

    const box = $("composer-text");
    box.disabled = state.sending || templated;
    box.maxLength = MAX_TEXT[target.channel] || MAX_TEXT.sms;
    if (templated) {
      box.placeholder = info.state === "open"
        ? "Template messages carry no free text: fill in the template above."
        : "Free-form messages need an open 24-hour window. Send a template above.";
    } else if (mediaOpen) {
      box.placeholder = "Add a caption (optional)…";
    } else {
      box.placeholder = target.channel === "whatsapp" ? "Write a WhatsApp message…" : "Write a message…";
    }
    $("composer").dataset.channel = target.channel;
    $("composer").dataset.mode = templated ? "template" : mediaOpen ? "media" : "text";
    $("composer-send").textContent = state.sending ? "Sending…" : templated ? "Send template" : "Send";
    $("composer-hint").hidden = templated;
  }

  function renderWindowState(info, extras) {
    const box = $("window-state");
    if (!info) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    box.dataset.state = info.state;
    const title = $("window-title");
    const detail = $("window-detail");
    const toggle = $("template-toggle");
    if (info.state === "open") {
      title.textContent = `Window open · closes in ${duration(info.left)}`;
      title.title = `Free-form messages can be sent until ${fmtFull.format(info.expires)}`;
      detail.textContent = `Free-form WhatsApp messages are allowed until ${fmtMoment.format(info.expires)}, 24 hours after the contact's last message.`;
      toggle.hidden = false;
      toggle.textContent = extras.useTemplate ? "Write a message instead" : "Use a template";
      toggle.setAttribute("aria-pressed", String(extras.useTemplate));
    } else if (info.state === "closed") {
      title.textContent = "Window closed — send an approved template";
      title.title = `Closed ${fmtFull.format(info.expires)}`;
      detail.textContent = `It closed ${duration(Date.now() - info.expires.getTime())} ago, 24 hours after the contact's last message. It opens again when they write.`;
      toggle.hidden = true;
    } else {
      title.textContent = "No open window — send an approved template";
      title.title = "";
      detail.textContent = "The contact hasn't written to this number yet, so WhatsApp only allows approved templates.";
      toggle.hidden = true;
    }
  }

  function renderMediaHelp(target, extras) {
    const url = extras.mediaUrl.trim();
    const kind = url ? KINDS[kindOf(mimeOf(url, ""))] : null;
    const what = kind && kind !== "File" ? `${kind}. ` : "";
    const help = target.channel === "whatsapp"
      ? `${what}The message text becomes its caption.`
      : `${what}Sent as MMS from ${formatPhone(target.address) || "the default number"}${target.provider ? ` via ${providerName(target.provider)}` : ""}.`;
    $("media-help").textContent = help;
  }

  function templateChoice(extras) {
    if (!extras.template) return null;
    const [name, language] = extras.template.split("|");
    const found = findTemplate(name, language);
    return found && found.status === "APPROVED" ? found : null;
  }

  const TEMPLATE_STATUS = { PENDING: "pending approval", REJECTED: "rejected", PAUSED: "paused", DISABLED: "disabled" };

  function renderTemplatePanel(key, extras) {
    const select = $("template-select");
    const empty = $("template-empty");
    const hasTemplates = state.templates.length > 0;
    select.hidden = !hasTemplates;
    empty.hidden = hasTemplates;
    if (!hasTemplates) {
      empty.textContent = state.templatesLoaded
        ? "No templates yet. Sync them from your WhatsApp Business Account to send one."
        : "Loading templates…";
    }
    const version = String(state.templatesVersion);
    if (select.dataset.version !== version) {
      const sorted = [...state.templates].sort((a, b) =>
        (a.status === "APPROVED" ? 0 : 1) - (b.status === "APPROVED" ? 0 : 1) || a.name.localeCompare(b.name));
      const nodes = [option("", "Choose an approved template…")];
      for (const t of sorted) {
        const approved = t.status === "APPROVED";
        const category = t.category ? t.category.charAt(0) + t.category.slice(1).toLowerCase() : "";
        const label = approved
          ? `${t.name} · ${t.language}${category ? ` · ${category}` : ""}`
          : `${t.name} · ${t.language} — ${TEMPLATE_STATUS[t.status] || t.status.toLowerCase()}`;
        nodes.push(option(`${t.name}|${t.language}`, label, { disabled: !approved }));
      }
      select.replaceChildren(...nodes);
      select.dataset.version = version;
    }
    const chosen = templateChoice(extras);
    select.value = chosen ? extras.template : "";
    $("template-body").hidden = !chosen;
    const params = $("template-params");
    const paramsKey = `${key}|${chosen ? extras.template : ""}|${version}`;
    if (params.dataset.for !== paramsKey) {
      params.dataset.for = paramsKey;
      params.replaceChildren(...(chosen ? parameterFields(chosen, extras) : []));
    }
    renderTemplatePreview(extras);
  }

  function parameterFields(definition, extras) {
    const examples = exampleValues(definition);
    if (!definition.parameters.length) return [el("p", "template-none", "This template has no values to fill in.")];
    return definition.parameters.map((name, index) => {
      const field = el("div", "template-param");
      const id = `template-param-${index}`;
      const label = el("label", null, parameterLabel(name));
      label.htmlFor = id;
      const input = el("input");
      input.id = id;
      input.type = name === "header" || name.startsWith("button_") ? "url" : "text";
      input.autocomplete = "off";
      input.dataset.param = name;
      input.dataset.testid = "template-param";
      input.value = extras.values[name] || "";
      input.placeholder = examples[name] ? `e.g. ${examples[name]}` : "";
      input.disabled = state.sending;
      field.append(label, input);
      return field;
    });
  }

  function renderTemplatePreview(extras) {
    const preview = $("template-preview");
    const chosen = templateChoice(extras);
    if (!chosen) {
      preview.replaceChildren();
      return;
    }
    preview.replaceChildren(templateCard(chosen.name, chosen.language, chosen, extras.values));
  }

  function markParameter(name, problem) {
    for (const input of $("template-params").querySelectorAll("input")) {
      if (input.dataset.param === name) {
        input.setAttribute("aria-invalid", "true");
        input.title = problem;
        input.focus();
      }
    }
  }

  async function syncTemplates() {
    const button = $("template-sync");
    const status = $("template-sync-status");
    button.disabled = true;
    status.className = "template-sync-status";
    status.textContent = "Syncing templates…";
    try {
      const result = await request("/api/v1/templates/sync", { method: "POST" });
      await loadTemplates();
      const count = result ? result.synced : state.templates.length;
      const from = result && result.provider ? ` from ${providerName(result.provider)}` : "";
      status.textContent = `Synced ${count} template${count === 1 ? "" : "s"}${from}.`;
      status.className = "template-sync-status is-ok";
    } catch (error) {
      status.textContent = `Could not sync templates: ${error.message}`;
      status.className = "template-sync-status is-error";
    } finally {
      button.disabled = false;
    }
  }

  function autoGrow() {
    const box = $("composer-text");
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight, 200)}px`;
  }

  function showComposerError(text) {
    const error = $("composer-error");
    error.textContent = text;
    error.hidden = false;
  }

  function clearComposerError() {
    const error = $("composer-error");
    error.textContent = "";
    error.hidden = true;
    showRecipientError(null);
    $("media-url").removeAttribute("aria-invalid");
    for (const input of $("template-params").querySelectorAll("input")) input.removeAttribute("aria-invalid");
  }

  function showRecipientError(text) {
    const error = $("recipient-error");
    const input = $("recipient-input");
    error.textContent = text || "";
    error.hidden = !text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function setSending(sending) {
    state.sending = sending;
    const form = $("composer");
    form.setAttribute("aria-busy", sending ? "true" : "false");
    for (const id of ["composer-send", "recipient-input", "sender-picker", "media-url", "media-remove", "template-select"]) {
      $(id).disabled = sending;
    }
    for (const input of $("template-params").querySelectorAll("input")) input.disabled = sending;
    renderComposer();
  }

  /** The request body for what the composer holds, or a problem to show (and where). */
  function buildSend(target, text) {
    const extras = extrasOf(target.key);
    const body = { to: target.to };
    if (target.address) body.from = target.address;
    if (target.provider) body.provider = target.provider;
    if (usesTemplate(target, windowInfo(target))) {
      const chosen = templateChoice(extras);
      if (!chosen) return { problem: "Choose an approved template first.", focus: "template-select" };
      const values = {};
      for (const name of chosen.parameters) {
        const value = (extras.values[name] || "").trim();
        if (!value) return { problem: `Fill in ${parameterLabel(name)} before sending.`, parameter: name };
        values[name] = value;
      }
      body.channel = "whatsapp";
      body.template = { name: chosen.name, language: chosen.language };
      if (chosen.parameters.length) body.template.parameters = values;
      return { body };
    }
    const mediaOpen = extras.mediaOpen || target.mms;
    const mediaUrl = mediaOpen ? extras.mediaUrl.trim() : "";
    if (target.channel === "whatsapp") body.channel = "whatsapp";
    else body.channel = target.mms || mediaUrl ? "mms" : "sms";
    if (mediaUrl) {
      if (!safeUrl(mediaUrl)) return { problem: "Enter the media's full address, starting with https://.", focus: "media-url" };
      body.media = target.channel === "whatsapp" ? { url: mediaUrl } : [{ url: mediaUrl }];
    } else if (body.channel === "mms") {
      return { problem: "Add the media URL to send an MMS.", focus: "media-url" };
    } else if (!text.trim()) {
      return { problem: "Write a message first.", focus: "composer-text" };
    }
    if (text.trim()) body.text = text;
    return { body };
  }

  async function send() {
    if (state.sending || !state.selected) return;
    const target = composerTarget();
    if (!target) return;
    const box = $("composer-text");
    const text = box.value;
    clearComposerError();
    let recipientInput = null;
    if (target.key === "new") {
      recipientInput = $("recipient-input");
      if (!target.to) {
        showRecipientError("Enter the contact's number, e.g. +14155550199.");
        recipientInput.focus();
        return;
      }
    }
    const built = buildSend(target, text);
    if (built.problem) {
      showComposerError(built.problem);
      if (built.parameter) markParameter(built.parameter, built.problem);
      if (built.focus === "media-url") $("media-url").setAttribute("aria-invalid", "true");
      if (built.focus) $(built.focus).focus();
      return;
    }
    const body = built.body;
    const fingerprint = JSON.stringify(body);
    if (!state.pendingSend || state.pendingSend.fingerprint !== fingerprint) {
      state.pendingSend = { fingerprint, key: idempotencyKey() };
    }
    const sentFrom = state.selected;
    let focusAfter = null;
    setSending(true);
    try {
      const message = await request("/api/v1/messages", {
        method: "POST",
        json: body,
        headers: { "Idempotency-Key": state.pendingSend.key },
      });
      state.pendingSend = null;
      // A template carries none of the typed text: that draft stays for when the window opens.
      const usedText = !body.template;
      if (usedText) state.drafts.delete(sentFrom);
      state.extras.delete(sentFrom);
      if (state.selected === sentFrom) {
        if (usedText) box.value = "";
        $("media-url").value = "";
        $("template-params").dataset.for = "";
        autoGrow();
        schedulePreview();
      }
      if (sentFrom === "new" && state.selected === "new") {
        $("recipient-input").value = "";
        state.drafts.delete("new");
        state.selected = null; // so the draft of "new" is not saved back
        await selectConversation(message.conversation_id);
      }
      if (state.selected === message.conversation_id) {
        mergeMessage(message);
        renderThread({ stickToBottom: true });
      }
    } catch (error) {
      // Everything typed stays; say what went wrong next to the field at fault.
      focusAfter = handleSendError(error, target, sentFrom);
    } finally {
      setSending(false);
      if (focusAfter) focusAfter.focus();
      else if (recipientInput && !$("recipient-error").hidden) recipientInput.focus();
      else if (state.selected) focusComposerField();
    }
  }

  function handleSendError(error, target, sentFrom) {
    const field = error.field || "";
    if (error.code === "outside_whatsapp_window") {
      // The server's clock has the last word: show the window as it sees it, offer templates.
      const closedAt = parseTime(error.details.window_closed_at);
      if (target.conversation) target.conversation.window_expires_at = error.details.window_closed_at || null;
      const since = closedAt ? `closed at ${fmtMoment.format(closedAt)}` : "has not been opened by the contact";
      showComposerError(`Not sent: the WhatsApp window ${since}. Free-form messages need an open window; send an approved template instead. Your text is kept below.`);
      renderComposer();
      return null;
    }
    if (field === "to" && sentFrom === "new") {
      showRecipientError(recipientMessage(error));
      return null;
    }
    const parameter = /^template\.parameters\.(.+)$/.exec(field);
    if (parameter) {
      showComposerError(`Not sent: ${error.message}`);
      markParameter(parameter[1], error.message);
      return document.activeElement;
    }
    if (field.startsWith("media")) {
      showComposerError(`Not sent: ${error.message}`);
      $("media-url").setAttribute("aria-invalid", "true");
      return $("media-draft").hidden ? null : $("media-url");
    }
    if (field === "text") {
      showComposerError(error.message);
      return null;
    }
    showComposerError(error.status === 0 ? error.message : `Not sent: ${error.message}`);
    return null;
  }

  function recipientMessage(error) {
    const detail = error.message.replace(/^to:\s*/i, "");
    if (error.code === "recipient_not_replyable") return `Can't send there: ${detail}`;
    return `That number can't be used: ${detail}`;
  }

  /* ---------------------------------------------------- encoding preview */

  let previewTimer = null;
  let previewSeq = 0;

  function schedulePreview() {
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(updatePreview, PREVIEW_DELAY_MS);
  }

  function describeChar(char) {
    if (/^[\s\p{C}]$/u.test(char)) {
      return `U+${char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
    }
    return `“${char}”`;
  }

  async function updatePreview() {
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

  /* ------------------------------------------------------------- live events */

  function onConversation(conversation) {
    const before = state.lastUnread.get(conversation.id) ?? 0;
    state.lastUnread.set(conversation.id, conversation.unread_count);
    state.conversations.set(conversation.id, conversation);
    renderList();
    if (conversation.id === state.selected) {
      renderThreadHead();
      renderComposer(); // a message from the contact reopens the WhatsApp window
      markReadIfVisible();
    } else {
      if (state.selected === "new") renderComposer();
      if (conversation.unread_count > before) {
        announce(`New message from ${displayName(conversation)}: ${prettyPreview(conversation.last_message_preview)}`);
      }
    }
  }

  function onMessage(message, created) {
    if (message.conversation_id !== state.selected) return;
    const isNew = !state.messages.has(message.id);
    if (!mergeMessage(message)) return;
    const scroller = $("messages");
    const stick = nearBottom(scroller) || (created && message.direction === "outbound");
    if (isNew) {
      renderThread({ stickToBottom: stick });
      if (message.direction === "inbound") {
        const conversation = state.conversations.get(message.conversation_id);
        const what = message.text || (message.media && message.media.length ? "an attachment" : "");
        announce(`New message from ${conversation ? displayName(conversation) : formatPhone(message.from)}: ${what}`);
      }
    } else {
      const node = messageNodes.get(message.id);
      if (node) paintMessage(node, message);
      else renderThread();
      const info = statusInfo(message);
      if (info.tone === "failed") announce(`Message not delivered: ${info.title}`);
    }
  }

  let source = null;
  let retryTimer = null;
  let retryDelay = 1000;
  let lastEventId = ""; // a new EventSource resumes from it (the browser's own reconnects do)

  function setConnection(stateName, label) {
    const indicator = $("connection");
    indicator.dataset.state = stateName;
    $("connection-label").textContent = label;
  }

  function connect() {
    window.clearTimeout(retryTimer);
    if (source) source.close();
    setConnection("connecting", "Connecting…");
    const resume = lastEventId;
    const query = resume ? `?last_event_id=${encodeURIComponent(resume)}` : "";
    source = new EventSource(`/api/v1/events${query}`);
    // Only a stream opened without an id needs a load: `ready` carries an id, so every later
    // reconnect resumes, and the server says `reset` when it cannot.
    let loaded = Boolean(resume);
    const on = (name, handle) =>
      source.addEventListener(name, (event) => {
        if (event.lastEventId) lastEventId = event.lastEventId;
        handle(event);
      });
    on("ready", () => {
      retryDelay = 1000;
      setConnection("live", "Live");
      if (!loaded) resync();
      loaded = true;
    });
    on("reset", () => resync());
    on("message.created", (event) => onMessage(JSON.parse(event.data), true));
    on("message.status", (event) => onMessage(JSON.parse(event.data), false));
    on("conversation.updated", (event) => onConversation(JSON.parse(event.data)));
    source.addEventListener("error", () => {
      setConnection("offline", "Reconnecting…");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the server answered an error): retry ourselves, and
        // let an API call find out whether the session has ended.
        source.close();
        request("/api/v1/conversations?limit=1").catch(() => {});
        retryTimer = window.setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
      }
    });
  }

  /** Load what is on screen: on a first connection, or when the server says `reset`. */
  async function resync() {
    try {
      await Promise.all([loadSenders(), loadConversations()]);
      if (state.selected) renderComposer();
      if (state.selected && state.selected !== "new") await loadThread(state.selected);
    } catch (error) {
      if (error.status !== 401) setConnection("offline", "Could not load the inbox");
    }
    // Templates only enrich the page (cards, the picker): their failure is not the inbox's.
    loadTemplates().catch(() => {
      state.templatesLoaded = true;
    });
  }

  /** The window countdown, and the moment a window closes while the thread is on screen. */
  function tickWindow() {
    if (!state.selected || state.windowState === null) return;
    const target = composerTarget();
    const info = windowInfo(target);
    if ((info ? info.state : null) !== state.windowState) {
      renderComposer();
      schedulePreview();
    } else if (info) {
      renderWindowState(info, extrasOf(target.key));
    }
  }

  /* ------------------------------------------------------------------ routing */

  function setHash(id) {
    const hash = id && id !== "new" ? `#c/${id}` : "";
    if (window.location.hash !== hash) {
      window.history.replaceState(null, "", hash || window.location.pathname);
    }
  }

  function idFromHash() {
    const match = /^#c\/([0-9a-fA-F-]{36})$/.exec(window.location.hash);
    return match ? match[1] : null;
  }

  function startNewConversation() {
    saveDraft();
    state.selected = "new";
    state.messages = new Map();
    messageNodes.clear();
    state.threadHasEarlier = false;
    restoreDraft();
    setHash(null);
    showThread(true);
    renderThreadHead();
    renderComposer();
    renderThread();
    renderList();
    prefillSimulator();
    $("recipient-input").focus();
  }

  /* ---------------------------------------------------------------- sandbox */

  /** Which inbound content each simulated route can carry (the control API's rules). */
  const ROUTES = {
    "plivo/sms": { image: true, button: false, hint: "An image makes it an MMS." },
    "vonage/sms": { image: false, button: false, hint: "Vonage SMS carry text only." },
    "plivo/whatsapp": { image: true, button: true, hint: "An image (text is its caption), or a button reply." },
    "vonage/whatsapp": { image: true, button: true, hint: "An image (text is its caption), or a button reply." },
  };

  function renderSimulatorRoutes() {
    if (!SANDBOX) return;
    const select = $("simulate-to");
    const previous = select.value;
    const nodes = state.senders
      .filter((s) => ROUTES[`${s.provider}/${s.channel}`])
      .map((s) => option(choiceValue(s.provider, s.channel, s.address), `${channelName(s.channel)} via ${providerName(s.provider)} · ${formatPhone(s.address)}`));
    if (!nodes.length) return; // keep the server-rendered default
    select.replaceChildren(...nodes);
    const values = Array.from(select.options, (o) => o.value);
    if (values.includes(previous)) select.value = previous;
    updateSimulatorFields();
  }

  function simulatorRoute() {
    const choice = parseChoice($("simulate-to").value) || { provider: "plivo", channel: "sms", address: SANDBOX_NUMBER };
    return { ...choice, rules: ROUTES[`${choice.provider}/${choice.channel}`] || ROUTES["plivo/sms"] };
  }

  function updateSimulatorFields() {
    if (!SANDBOX) return;
    const { rules } = simulatorRoute();
    const image = $("simulate-image");
    const button = $("simulate-button");
    if (!rules.button) button.checked = false;
    button.disabled = !rules.button || Boolean(image.value.trim());
    image.disabled = !rules.image || button.checked;
    button.closest(".check").classList.toggle("is-disabled", button.disabled);
    image.closest(".field").classList.toggle("is-disabled", image.disabled);
    const label = $("simulate-text-label");
    const text = $("simulate-text");
    if (button.checked) {
      label.textContent = "Button title";
      text.placeholder = "The button the contact taps, e.g. Confirm";
    } else if (image.value.trim() && !image.disabled) {
      label.textContent = "Caption";
      text.placeholder = "Optional";
    } else {
      label.textContent = "Message";
      text.placeholder = "What the contact writes";
    }
    $("simulate-hint").textContent = rules.hint;
  }

  function prefillSimulator() {
    if (!SANDBOX) return;
    const conversation = state.selected && state.conversations.get(state.selected);
    let route = null;
    if (conversation) {
      $("simulate-from").value = conversation.contact_address;
      route = choiceValue(conversation.provider, conversation.channel, conversation.sender_address);
    } else if (state.selected === "new") {
      if ($("recipient-input").value.trim()) $("simulate-from").value = compactPhone($("recipient-input").value);
      const choice = parseChoice($("sender-picker").value);
      if (choice) route = choiceValue(choice.provider, choice.channel === "mms" ? "sms" : choice.channel, choice.address);
    }
    const select = $("simulate-to");
    if (route && Array.from(select.options, (o) => o.value).includes(route)) {
      select.value = route;
      updateSimulatorFields();
    }
  }

  function buttonPayload(title) {
    return title.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "") || "button";
  }

  /** The control API request for what the sandbox form holds, or a problem to show. */
  function simulatorRequest() {
    const route = simulatorRoute();
    const from = $("simulate-from").value.trim();
    const text = $("simulate-text").value;
    const image = route.rules.image ? $("simulate-image").value.trim() : "";
    const button = route.rules.button && $("simulate-button").checked;
    if (!from) return { problem: "Enter the contact's number.", focus: "simulate-from" };
    if (button && !text.trim()) return { problem: "Write the title of the button the contact taps.", focus: "simulate-text" };
    if (!image && !text.trim()) return { problem: "Write the message the contact sends.", focus: "simulate-text" };
    if (image && !/^https?:\/\/\S+$/.test(image)) return { problem: "The image URL must start with https://.", focus: "simulate-image" };
    const path = `/simulator/control/${route.provider}/inbound`;
    if (route.provider === "vonage") {
      const body = { channel: route.channel, from, to: route.address };
      if (button) body.button = { payload: buttonPayload(text), text: text.trim() };
      else if (image) body.image = text.trim() ? { url: image, caption: text } : { url: image };
      else body.text = text;
      return { path, body };
    }
    const body = { from, to: route.address, type: route.channel === "whatsapp" ? "whatsapp" : image ? "mms" : "sms" };
    if (button) body.button = { payload: buttonPayload(text), text: text.trim() };
    else if (text.trim()) body.text = text;
    if (image) body.media = [{ url: image, mime_type: mimeOf(image) }];
    return { path, body };
  }

  function setupSandbox() {
    if (!SANDBOX) return;
    const toggle = $("simulate-toggle");
    const form = $("simulate-form");
    const status = $("simulate-status");
    toggle.addEventListener("click", () => {
      const open = form.hidden;
      form.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) {
        prefillSimulator();
        const from = $("simulate-from");
        (from.value ? $("simulate-text") : from).focus();
      }
    });
    $("simulate-to").addEventListener("change", updateSimulatorFields);
    $("simulate-image").addEventListener("input", updateSimulatorFields);
    $("simulate-button").addEventListener("change", updateSimulatorFields);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const built = simulatorRequest();
      if (built.problem) {
        status.textContent = built.problem;
        status.className = "simulate-status is-error";
        $(built.focus).focus();
        return;
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      status.textContent = "Delivering…";
      status.className = "simulate-status";
      try {
        const result = await request(built.path, { method: "POST", json: built.body });
        if (result && result.status_code && result.status_code >= 200 && result.status_code < 300) {
          status.textContent = "Delivered to the inbox.";
          status.className = "simulate-status is-ok";
          $("simulate-text").value = "";
          $("simulate-image").value = "";
          $("simulate-button").checked = false;
          updateSimulatorFields();
          window.setTimeout(() => {
            if (status.textContent === "Delivered to the inbox.") status.textContent = "";
          }, 4000);
        } else {
          status.textContent = `textbridge refused the simulated webhook (HTTP ${result && result.status_code}).`;
          status.className = "simulate-status is-error";
        }
      } catch (error) {
        status.textContent = `Could not simulate: ${error.message}`;
        status.className = "simulate-status is-error";
      } finally {
        button.disabled = false;
        $("simulate-text").focus();
      }
    });
    updateSimulatorFields();
  }

  /* --------------------------------------------------------------------- wire */

  function setupComposer() {
    const box = $("composer-text");
    box.addEventListener("input", () => {
      autoGrow();
      schedulePreview();
      if (!$("composer-error").hidden) $("composer-error").hidden = true;
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        send();
      }
    });
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      send();
    });
    $("media-toggle").addEventListener("click", () => {
      if (!state.selected) return;
      extrasOf(state.selected).mediaOpen = true;
      renderComposer();
      schedulePreview();
      $("media-url").focus();
    });
    $("media-remove").addEventListener("click", () => {
      if (!state.selected) return;
      const extras = extrasOf(state.selected);
      extras.mediaOpen = false;
      extras.mediaUrl = "";
      $("media-url").removeAttribute("aria-invalid");
      const picker = $("sender-picker");
      const choice = state.selected === "new" ? parseChoice(picker.value) : null;
      if (choice && choice.channel === "mms") {
        picker.value = choiceValue(choice.provider, "sms", choice.address); // back to plain SMS
        renderSenderHelp();
      }
      renderComposer();
      schedulePreview();
      box.focus();
    });
    $("media-url").addEventListener("input", (event) => {
      if (!state.selected) return;
      extrasOf(state.selected).mediaUrl = event.target.value;
      event.target.removeAttribute("aria-invalid");
      const target = composerTarget();
      if (target) renderMediaHelp(target, extrasOf(state.selected));
      schedulePreview();
    });
    $("media-url").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        box.focus();
      }
    });
    $("template-toggle").addEventListener("click", () => {
      if (!state.selected) return;
      const extras = extrasOf(state.selected);
      extras.useTemplate = !extras.useTemplate;
      clearComposerError();
      renderComposer();
      focusComposerField();
    });
    $("template-select").addEventListener("change", (event) => {
      if (!state.selected) return;
      const extras = extrasOf(state.selected);
      extras.template = event.target.value;
      clearComposerError();
      renderComposer();
      $("template-params").querySelector("input")?.focus();
    });
    $("template-params").addEventListener("input", (event) => {
      const input = event.target;
      if (!state.selected || !input.dataset.param) return;
      extrasOf(state.selected).values[input.dataset.param] = input.value;
      input.removeAttribute("aria-invalid");
      input.removeAttribute("title");
      renderTemplatePreview(extrasOf(state.selected));
    });
    $("template-sync").addEventListener("click", syncTemplates);
    $("sender-picker").addEventListener("change", () => {
      renderSenderHelp();
      clearComposerError();
      renderComposer();
      schedulePreview();
      prefillSimulator();
      const choice = parseChoice($("sender-picker").value);
      if (choice && choice.channel === "mms") $("media-url").focus();
    });
  }

  function setup() {
    setupComposer();
    $("recipient-input").addEventListener("input", () => {
      showRecipientError(null);
      renderComposer(); // a known WhatsApp contact may have an open window
    });
    $("recipient-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        focusComposerField();
      }
    });
    $("recipient-input").addEventListener("change", prefillSimulator);
    $("recipient-cancel").addEventListener("click", () => {
      state.drafts.delete("new");
      state.extras.delete("new");
      clearSelection();
      $("new-conversation").focus();
    });
    $("new-conversation").addEventListener("click", startNewConversation);
    $("thread-back").addEventListener("click", () => {
      clearSelection();
    });
    $("search").addEventListener("input", (event) => {
      state.filter = event.target.value.trim();
      renderList();
    });
    $("conversation-list").addEventListener("keydown", moveThroughList);
    $("list-more").addEventListener("click", () => loadOlderConversations().catch(() => {}));
    $("earlier").addEventListener("click", () => loadEarlier().catch(() => {}));
    document.addEventListener("visibilitychange", markReadIfVisible);
    window.addEventListener("focus", markReadIfVisible);
    window.addEventListener("hashchange", () => {
      const id = idFromHash();
      if (id && id !== state.selected) selectConversation(id);
    });
    window.addEventListener("online", connect);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && state.selected === "new" && !state.sending) {
        $("recipient-cancel").click();
      }
    });
    window.setInterval(() => renderList(), 60000); // "Yesterday" becomes true at midnight
    window.setInterval(tickWindow, WINDOW_TICK_MS);
    setupSandbox();

    const initial = idFromHash();
    if (initial) selectConversation(initial);
    connect();
  }

  setup();
})();
