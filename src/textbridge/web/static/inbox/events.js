/* textbridge inbox: The live event stream: connecting, resyncing, applying events. */

import { request } from "./api.js";
import {
  composerTarget,
  extrasOf,
  renderComposer,
  renderWindowState,
  windowInfo,
} from "./composer.js";
import { announce, displayName, formatPhone, prettyPreview, statusInfo } from "./dom.js";
import { schedulePreview } from "./encoding.js";
import { loadConversations, renderList } from "./list.js";
import { loadSenders } from "./senders.js";
import { $, state } from "./state.js";
import { loadTemplates } from "./templates.js";
import {
  loadThread,
  markReadIfVisible,
  mergeMessage,
  messageNodes,
  nearBottom,
  paintMessage,
  renderThread,
  renderThreadHead,
} from "./thread.js";

/* ------------------------------------------------------------- live events */

export function onConversation(conversation) {
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

export function onMessage(message, created) {
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

export function setConnection(stateName, label) {
  const indicator = $("connection");
  indicator.dataset.state = stateName;
  $("connection-label").textContent = label;
}

export function connect() {
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
      // Whoever else follows the stream (alerts.js) without importing this module.
      document.dispatchEvent(new CustomEvent("inbox:event", { detail: name }));
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
export async function resync() {
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
export function tickWindow() {
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
