/* textbridge inbox: The sandbox's simulator panel. */

import { request } from "./api.js";
import { channelName, compactPhone, formatPhone, mimeOf, providerName } from "./dom.js";
import { choiceValue, option, parseChoice } from "./senders.js";
import { $, SANDBOX, SANDBOX_NUMBER, state } from "./state.js";

/* ---------------------------------------------------------------- sandbox */

/** Which inbound content each simulated route can carry (the control API's rules). */
export const ROUTES = {
  "plivo/sms": { image: true, button: false, hint: "An image makes it an MMS." },
  "vonage/sms": { image: false, button: false, hint: "Vonage SMS carry text only." },
  "plivo/whatsapp": { image: true, button: true, hint: "An image (text is its caption), or a button reply." },
  "vonage/whatsapp": { image: true, button: true, hint: "An image (text is its caption), or a button reply." },
};

export function renderSimulatorRoutes() {
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

export function simulatorRoute() {
  const choice = parseChoice($("simulate-to").value) || { provider: "plivo", channel: "sms", address: SANDBOX_NUMBER };
  return { ...choice, rules: ROUTES[`${choice.provider}/${choice.channel}`] || ROUTES["plivo/sms"] };
}

export function updateSimulatorFields() {
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

export function prefillSimulator() {
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

export function buttonPayload(title) {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "") || "button";
}

/** The control API request for what the sandbox form holds, or a problem to show. */
export function simulatorRequest() {
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

export function setupSandbox() {
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
