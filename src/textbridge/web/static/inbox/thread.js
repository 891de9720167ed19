/* textbridge inbox: The open conversation: its head, its messages, drafts, read receipts. */

import { request } from "./api.js";
import { renderContactPanel } from "./contact.js";
import { paintFix, ticksNode } from "./delivery.js";
import {
  autoGrow,
  clearComposerError,
  extrasOf,
  focusComposerField,
  renderComposer,
  send,
  showComposerError,
} from "./composer.js";
import { contentKey, paintContent } from "./content.js";
import {
  addressKindName,
  channelBadge,
  contactAddress,
  dayHeading,
  displayName,
  el,
  fmtTime,
  formatPhone,
  paintAvatar,
  parseTime,
  providerName,
  startOfDay,
  STATUS,
  statusInfo,
  timeElement,
} from "./dom.js";
import { schedulePreview } from "./encoding.js";
import { onConversation } from "./events.js";
import { renderList, sortedByTime } from "./list.js";
import { setHash } from "./routing.js";
import { prefillSimulator } from "./sandbox.js";
import { $, state, THREAD_PAGE } from "./state.js";

/* ------------------------------------------------------------------ thread */

export const messageNodes = new Map(); // id -> element, reused across renders

export function sortedMessages() {
  return sortedByTime(state.messages, "created_at", false);
}

export function messageNode(message) {
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

export function paintMessage(node, message) {
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
    const ticks = ticksNode(message);
    if (ticks) items.push(ticks);
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
  if (outbound) paintFix(node, message, failed);
}

export function nearBottom(scroller) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

export function renderThread({ stickToBottom = false } = {}) {
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

export function renderThreadHead() {
  renderContactPanel();
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

export function showThread(visible) {
  $("thread").hidden = !visible;
  $("thread-placeholder").hidden = visible;
  $("layout").dataset.view = visible ? "thread" : "list";
}

export function saveDraft() {
  if (state.selected) state.drafts.set(state.selected, $("composer-text").value);
}

export function restoreDraft() {
  const box = $("composer-text");
  box.value = state.drafts.get(state.selected) || "";
  $("media-url").value = state.selected ? extrasOf(state.selected).mediaUrl : "";
  autoGrow();
  clearComposerError();
  renderComposer();
  schedulePreview();
}

export async function selectConversation(id, { focusComposer = false } = {}) {
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

export async function loadThread(id) {
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

export async function loadEarlier() {
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

export function clearSelection() {
  saveDraft();
  state.selected = null;
  state.messages = new Map();
  messageNodes.clear();
  setHash(null);
  showThread(false);
  renderContactPanel();
  renderList();
}

/** Keep the newest version of a message (updated_at), whatever order copies arrive in. */
export function mergeMessage(message) {
  const known = state.messages.get(message.id);
  if (known && (parseTime(known.updated_at)?.getTime() ?? 0) > (parseTime(message.updated_at)?.getTime() ?? 0)) {
    return false;
  }
  state.messages.set(message.id, message);
  return true;
}

export function markReadIfVisible() {
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
