/* textbridge inbox: Configuration from the page and the inbox's shared state. */

import { send } from "./composer.js";
import { announce } from "./dom.js";

export const SANDBOX = document.body.dataset.sandbox === "true";
export const SANDBOX_NUMBER = document.body.dataset.sandboxNumber || "";
export const HEADERS = {
  Accept: "application/json",
  "X-Requested-With": "textbridge",
  // The session's CSRF token: every write the cookie authorises must carry it.
  "X-CSRF-Token": document.body.dataset.csrf || "",
};
export const LIST_PAGE = 100;
export const THREAD_PAGE = 100;
export const PREVIEW_DELAY_MS = 180;
export const WINDOW_TICK_MS = 15000;
export const MAX_TEXT = { sms: 1600, whatsapp: 4096 };

export const $ = (id) => document.getElementById(id);

/* ------------------------------------------------------------------ state */

export const state = {
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
