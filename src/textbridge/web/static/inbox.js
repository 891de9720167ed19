/* textbridge inbox: plain JavaScript, no framework, no build step.
 *
 * The page uses the same JSON API and event stream as any application. It subscribes to
 * /api/v1/events first and (re)loads the conversation list and the open thread on every
 * `ready` event, so nothing is missed on start-up or after a reconnect (events are not
 * replayed). All user text is rendered with textContent, never as HTML.
 */
(() => {
  "use strict";

  const SANDBOX = document.body.dataset.sandbox === "true";
  const SANDBOX_NUMBER = document.body.dataset.sandboxNumber || "";
  const HEADERS = { Accept: "application/json", "X-Requested-With": "textbridge" };
  const LIST_PAGE = 100;
  const THREAD_PAGE = 100;
  const PREVIEW_DELAY_MS = 180;

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
    sending: false,
    pendingSend: null, // {fingerprint, key}: a retry of the same send reuses its key
    filter: "",
    readInFlight: new Set(),
    lastUnread: new Map(), // conversation id -> unread count, to announce new arrivals
  };

  /* -------------------------------------------------------------------- API */

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
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
      return new ApiError(status, error.code || "error", error.message || `Request failed (HTTP ${status}).`, error.field || null);
    }
    if (typeof error === "string") {
      return new ApiError(status, "error", error, null);
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
    unknown: ["unknown", "Needs review", "The outcome is uncertain, so it was not resent automatically. Check before sending again."],
    received: ["received", "Received", "Received."],
  };

  function statusInfo(message) {
    const [tone, label, help] = STATUS[message.status] || ["pending", message.status, ""];
    let title = help;
    if (message.error_code || message.error_message) {
      const code = message.error_code ? ` (code ${message.error_code})` : "";
      title = `${label}: ${message.error_message || "no reason given"}${code}`;
    }
    return { tone, label, title };
  }

  function displayName(conversation) {
    return conversation.contact_name || conversation.contact_phone;
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
    el.style.setProperty("--avatar-hue", String(hue(conversation.contact_phone)));
  }

  function providerName(provider) {
    return provider ? provider.charAt(0).toUpperCase() + provider.slice(1) : "";
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function announce(text) {
    const announcer = $("announcer");
    announcer.textContent = "";
    window.setTimeout(() => {
      announcer.textContent = text;
    }, 50);
  }

  /* ------------------------------------------------------ conversation list */

  function sortedConversations() {
    return Array.from(state.conversations.values()).sort((a, b) => {
      const ta = parseTime(a.last_message_at)?.getTime() ?? 0;
      const tb = parseTime(b.last_message_at)?.getTime() ?? 0;
      return tb - ta || (a.id < b.id ? -1 : 1);
    });
  }

  function matches(conversation) {
    if (!state.filter) return true;
    const haystack = [conversation.contact_name, conversation.contact_phone, conversation.last_message_preview]
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
    button.dataset.phone = conversation.contact_phone;
    if (state.selected === conversation.id) button.setAttribute("aria-current", "true");
    const unread = conversation.unread_count > 0;
    if (unread) button.classList.add("is-unread");

    const avatar = el("span", "avatar");
    avatar.setAttribute("aria-hidden", "true");
    paintAvatar(avatar, conversation);

    const main = el("span", "conversation-main");
    const top = el("span", "conversation-top");
    const name = el("span", "conversation-name", displayName(conversation));
    name.dataset.testid = "conversation-name";
    const at = parseTime(conversation.last_message_at);
    top.append(name, timeElement(at, at ? listTime(at) : "", "conversation-time"));
    main.append(top);
    if (conversation.contact_name) {
      main.append(el("span", "conversation-phone", conversation.contact_phone));
    }
    const bottom = el("span", "conversation-bottom");
    const preview = el("span", "conversation-preview", conversation.last_message_preview || "No messages yet");
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

  /* ------------------------------------------------------------------ thread */

  const messageNodes = new Map(); // id -> element, reused across renders

  function sortedMessages() {
    return Array.from(state.messages.values()).sort((a, b) => {
      const ta = parseTime(a.created_at)?.getTime() ?? 0;
      const tb = parseTime(b.created_at)?.getTime() ?? 0;
      return ta - tb || (a.id < b.id ? -1 : 1);
    });
  }

  function messageNode(message) {
    let node = messageNodes.get(message.id);
    if (!node) {
      node = el("div", "message");
      node.dataset.testid = "message";
      node.dataset.messageId = message.id;
      const bubble = el("div", "bubble");
      bubble.dataset.testid = "message-text";
      const meta = el("div", "message-meta");
      const chip = el("span", "chip");
      chip.dataset.testid = "message-status";
      const problem = el("p", "message-problem");
      problem.dataset.testid = "message-error";
      node.append(bubble, meta, problem);
      node._parts = { bubble, meta, chip, problem };
      messageNodes.set(message.id, node);
    }
    paintMessage(node, message);
    return node;
  }

  function paintMessage(node, message) {
    const { bubble, meta, chip, problem } = node._parts;
    const outbound = message.direction === "outbound";
    node.className = `message ${outbound ? "message-out" : "message-in"}`;
    node.dataset.direction = message.direction;
    node.dataset.status = message.status;
    bubble.textContent = message.text || "";
    const at = parseTime(message.created_at);
    const parts = [timeElement(at, at ? fmtTime.format(at) : "", "message-time")];
    if (outbound) {
      const info = statusInfo(message);
      chip.className = `chip chip-${info.tone}`;
      chip.dataset.status = message.status;
      chip.textContent = info.label;
      chip.title = info.title;
      if (message.segments && message.segments > 1) {
        parts.push(el("span", "message-segments", `${message.segments} segments`));
      }
      parts.push(chip);
    }
    meta.replaceChildren(...parts);
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
      empty.textContent = "Enter the contact's number above, write your message below and press Enter.";
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
    const channel = (conversation.channel || "sms").toUpperCase();
    const sub = [];
    if (conversation.contact_name) sub.push(conversation.contact_phone);
    sub.push(`${channel} via ${conversation.sender_address}`);
    if (conversation.provider) sub.push(providerName(conversation.provider));
    $("thread-sub").textContent = sub.join(" · ");
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
    autoGrow();
    clearComposerError();
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
    renderThread({ stickToBottom: true });
    renderList();
    prefillSimulator();
    if (focusComposer) $("composer-text").focus();
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
    $("composer-text").disabled = sending;
    $("composer-send").disabled = sending;
    $("recipient-input").disabled = sending;
    $("composer-send").textContent = sending ? "Sending…" : "Send";
  }

  async function send() {
    if (state.sending || !state.selected) return;
    const box = $("composer-text");
    const text = box.value;
    clearComposerError();
    let body;
    let recipientInput = null;
    if (state.selected === "new") {
      recipientInput = $("recipient-input");
      const to = recipientInput.value.trim();
      if (!to) {
        showRecipientError("Enter the contact's number, e.g. +14155550199.");
        recipientInput.focus();
        return;
      }
      body = { to, text };
    } else {
      const conversation = state.conversations.get(state.selected);
      if (!conversation) return;
      body = { to: conversation.contact_phone, from: conversation.sender_address, text };
    }
    if (!text.trim()) {
      showComposerError("Write a message first.");
      box.focus();
      return;
    }
    const fingerprint = JSON.stringify(body);
    if (!state.pendingSend || state.pendingSend.fingerprint !== fingerprint) {
      state.pendingSend = { fingerprint, key: idempotencyKey() };
    }
    const sentFrom = state.selected;
    setSending(true);
    try {
      const message = await request("/api/v1/messages", {
        method: "POST",
        json: body,
        headers: { "Idempotency-Key": state.pendingSend.key },
      });
      state.pendingSend = null;
      state.drafts.delete(sentFrom);
      if (state.selected === sentFrom) {
        box.value = "";
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
      // The text stays in the box; say what went wrong next to the field at fault.
      if (error.field === "to" && sentFrom === "new") {
        showRecipientError(recipientMessage(error));
      } else if (error.field === "text") {
        showComposerError(error.message);
      } else {
        showComposerError(error.status === 0 ? error.message : `Not sent: ${error.message}`);
      }
    } finally {
      setSending(false);
      if (recipientInput && !$("recipient-error").hidden) recipientInput.focus();
      else box.focus();
    }
  }

  function recipientMessage(error) {
    const detail = error.message.replace(/^to:\s*/i, "");
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
    if (!text) {
      counter.textContent = "";
      counter.className = "composer-counter";
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
      markReadIfVisible();
    } else if (conversation.unread_count > before) {
      announce(`New message from ${displayName(conversation)}: ${conversation.last_message_preview || ""}`);
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
        announce(`New message from ${conversation ? displayName(conversation) : message.from}: ${message.text || ""}`);
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

  function setConnection(stateName, label) {
    const indicator = $("connection");
    indicator.dataset.state = stateName;
    $("connection-label").textContent = label;
  }

  function connect() {
    window.clearTimeout(retryTimer);
    if (source) source.close();
    setConnection("connecting", "Connecting…");
    source = new EventSource("/api/v1/events");
    source.addEventListener("ready", () => {
      retryDelay = 1000;
      setConnection("live", "Live");
      resync();
    });
    source.addEventListener("message.created", (event) => onMessage(JSON.parse(event.data), true));
    source.addEventListener("message.status", (event) => onMessage(JSON.parse(event.data), false));
    source.addEventListener("conversation.updated", (event) => onConversation(JSON.parse(event.data)));
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

  /** Events are not replayed: after (re)connecting, reload what is on screen. */
  async function resync() {
    try {
      await loadConversations();
      if (state.selected && state.selected !== "new") await loadThread(state.selected);
    } catch (error) {
      if (error.status !== 401) setConnection("offline", "Could not load the inbox");
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
    renderThread();
    renderList();
    prefillSimulator();
    $("recipient-input").focus();
  }

  /* ---------------------------------------------------------------- sandbox */

  function prefillSimulator() {
    if (!SANDBOX) return;
    const conversation = state.selected && state.conversations.get(state.selected);
    if (conversation) {
      $("simulate-from").value = conversation.contact_phone;
      $("simulate-to").value = conversation.sender_address;
    } else if (state.selected === "new" && $("recipient-input").value.trim()) {
      $("simulate-from").value = $("recipient-input").value.trim();
      $("simulate-to").value = SANDBOX_NUMBER;
    }
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
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {
        from: $("simulate-from").value.trim(),
        to: $("simulate-to").value.trim() || SANDBOX_NUMBER,
        text: $("simulate-text").value,
      };
      if (!body.from || !body.text) {
        status.textContent = !body.from ? "Enter the contact's number." : "Write the message the contact sends.";
        status.className = "simulate-status is-error";
        return;
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      status.textContent = "Delivering…";
      status.className = "simulate-status";
      try {
        const result = await request("/simulator/control/plivo/inbound", { method: "POST", json: body });
        if (result && result.status_code && result.status_code >= 200 && result.status_code < 300) {
          status.textContent = "Delivered to the inbox.";
          status.className = "simulate-status is-ok";
          $("simulate-text").value = "";
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
  }

  /* --------------------------------------------------------------------- wire */

  function setup() {
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
    $("recipient-input").addEventListener("input", () => showRecipientError(null));
    $("recipient-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        box.focus();
      }
    });
    $("recipient-input").addEventListener("change", prefillSimulator);
    $("recipient-cancel").addEventListener("click", () => {
      state.drafts.delete("new");
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
    setupSandbox();

    const initial = idFromHash();
    if (initial) selectConversation(initial);
    connect();
  }

  setup();
})();
