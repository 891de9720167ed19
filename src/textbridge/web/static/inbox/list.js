/* textbridge inbox: The conversation list. */

import { requestPage } from "./api.js";
import {
  addressKindName,
  channelName,
  contactAddress,
  displayName,
  el,
  icon,
  listTime,
  paintAvatar,
  parseTime,
  prettyPreview,
  providerName,
  timeElement,
} from "./dom.js";
import { $, LIST_PAGE, state } from "./state.js";
import { selectConversation } from "./thread.js";

/* ------------------------------------------------------ conversation list */

/** Items of a Map sorted by a time field (ascending, or newest first), then by id. */
export function sortedByTime(items, field, newestFirst) {
  const sign = newestFirst ? -1 : 1;
  return Array.from(items.values()).sort((a, b) => {
    const ta = parseTime(a[field])?.getTime() ?? 0;
    const tb = parseTime(b[field])?.getTime() ?? 0;
    return sign * (ta - tb) || (a.id < b.id ? -1 : 1);
  });
}

export function sortedConversations() {
  return sortedByTime(state.conversations, "last_message_at", true);
}

export function matches(conversation) {
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

export function renderList() {
  const list = $("conversation-list");
  const focusedId = document.activeElement?.closest?.(".conversation")?.dataset.conversationId;
  const items = searching() ? searchResults() : sortedConversations().filter(matches);
  list.replaceChildren(...items.map(conversationItem));
  const empty = $("list-empty");
  if (searching()) {
    empty.textContent = search.loading ? "Searching…" : "No conversation matches your search.";
    empty.hidden = items.length > 0;
  } else if (state.conversations.size === 0) {
    empty.textContent = "No conversations yet. Start one with “New conversation”.";
    empty.hidden = false;
  } else if (items.length === 0) {
    empty.textContent = "No conversation matches your search.";
    empty.hidden = false;
  } else {
    empty.hidden = true;
  }
  $("list-more").hidden = searching() ? !search.next : !state.listHasMore;
  if (focusedId) {
    list.querySelector(`[data-conversation-id="${CSS.escape(focusedId)}"]`)?.focus();
  }
  renderTitle();
}

export function conversationItem(conversation) {
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
export function moveThroughList(event) {
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

export function renderTitle() {
  let unread = 0;
  for (const conversation of state.conversations.values()) unread += conversation.unread_count || 0;
  document.title = unread > 0 ? `(${unread}) Inbox · textbridge` : "Inbox · textbridge";
}

export async function loadConversations() {
  const { data: conversations, next } = await requestPage(`/api/v1/conversations?limit=${LIST_PAGE}`);
  const fresh = new Map(conversations.map((c) => [c.id, c]));
  // Keep older pages already shown (and anything that arrived live meanwhile).
  for (const [id, conversation] of state.conversations) {
    if (!fresh.has(id)) fresh.set(id, conversation);
  }
  state.conversations = fresh;
  if (state.lastUnread.size === 0) {
    for (const c of fresh.values()) state.lastUnread.set(c.id, c.unread_count);
  }
  // A reload keeps the deeper cursor already reached, so scrolling goes on from there.
  if (!listCursor || !state.listHasMore) listCursor = next;
  state.listHasMore = Boolean(listCursor);
  renderList();
  if (searching()) runSearch();
}

let listCursor = null; // X-Next-Cursor of the unfiltered list's last page
let loadingMore = false;

export async function loadOlderConversations() {
  if (loadingMore) return;
  loadingMore = true;
  try {
    if (searching()) {
      await loadMoreResults();
    } else if (listCursor) {
      const path = `/api/v1/conversations?limit=${LIST_PAGE}&before=${encodeURIComponent(listCursor)}`;
      const { data: page, next } = await requestPage(path);
      for (const conversation of page) state.conversations.set(conversation.id, conversation);
      listCursor = next;
      state.listHasMore = Boolean(next);
      renderList();
    }
  } finally {
    loadingMore = false;
  }
}

/* ------------------------------------------- search, filter chips, scroll */

// The server searches (number, name, message text) and filters; the list then shows its
// answer, page by page, with live updates applied to the conversations it holds.
const search = { q: "", filters: {}, results: null, next: null, loading: false, token: 0, timer: null };
const SEARCH_DELAY_MS = 200;
const SCROLL_MARGIN_PX = 240;

function searching() {
  return Boolean(search.q) || Object.keys(search.filters).length > 0;
}

function searchResults() {
  if (!search.results) return [];
  // A live update of a conversation shown replaces it (its order stays the server's).
  return Array.from(search.results.values(), (c) => state.conversations.get(c.id) || c);
}

function searchPath(before) {
  const params = new URLSearchParams({ limit: String(LIST_PAGE) });
  if (search.q) params.set("q", search.q);
  for (const [name, value] of Object.entries(search.filters)) params.set(name, value);
  if (before) params.set("before", before);
  return `/api/v1/conversations?${params}`;
}

async function runSearch() {
  const token = ++search.token;
  search.loading = true;
  renderList();
  try {
    const { data, next } = await requestPage(searchPath(null));
    if (token !== search.token) return; // a newer search was typed meanwhile
    search.results = new Map(data.map((c) => [c.id, c]));
    search.next = next;
  } catch (error) {
    if (token !== search.token) return;
    search.results = new Map();
    search.next = null;
    $("list-empty").textContent = error.message;
  } finally {
    if (token === search.token) {
      search.loading = false;
      renderList();
    }
  }
}

async function loadMoreResults() {
  if (!search.next || search.loading) return;
  const token = search.token;
  const { data, next } = await requestPage(searchPath(search.next));
  if (token !== search.token) return;
  for (const conversation of data) search.results.set(conversation.id, conversation);
  search.next = next;
  renderList();
}

/** The search box's text changed: search again once typing pauses. */
export function setSearchText(text) {
  state.filter = text.trim();
  search.q = state.filter;
  window.clearTimeout(search.timer);
  if (!searching()) {
    search.token += 1;
    search.results = null;
    search.loading = false;
    renderList();
    return;
  }
  search.timer = window.setTimeout(runSearch, SEARCH_DELAY_MS);
}

function toggleChip(chip) {
  const { filter, value } = chip.dataset;
  const on = search.filters[filter] !== value;
  if (on) search.filters[filter] = value;
  else delete search.filters[filter];
  for (const other of $("filter-chips").querySelectorAll(".filter-chip")) {
    other.setAttribute("aria-pressed", String(search.filters[other.dataset.filter] === other.dataset.value));
  }
  window.clearTimeout(search.timer);
  if (searching()) {
    runSearch();
  } else {
    search.token += 1;
    search.results = null;
    renderList();
  }
}

/** Filter chips, and the next page loaded as the list is scrolled near its end. */
export function setupListControls() {
  for (const chip of $("filter-chips").querySelectorAll(".filter-chip")) {
    chip.addEventListener("click", () => toggleChip(chip));
  }
  const list = $("conversation-list");
  list.addEventListener("scroll", () => {
    if (list.scrollTop + list.clientHeight < list.scrollHeight - SCROLL_MARGIN_PX) return;
    const more = searching() ? search.next : state.listHasMore;
    if (more) loadOlderConversations().catch(() => {});
  });
}
