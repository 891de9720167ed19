/* textbridge campaigns page: create an SMS or WhatsApp (template) campaign from a CSV upload,
   optionally for later, preview it (first rows,
   refused rows, opted out, cost, quiet hours), start it, follow it live
   (`campaign.progress` events), and read its final report. No build step: native modules. */

import { campaigns, templates } from "./api.js";
import {
  $,
  announce,
  renderHead,
  renderList,
  renderPreview,
  renderProgress,
  renderReport,
  stateLabel,
} from "./view.js";

const FINISHED = new Set(["completed", "cancelled"]);
const page = { selected: null, campaign: null, loading: 0, templates: null };

function selectedFromHash() {
  const id = window.location.hash.slice(1);
  return /^[0-9a-f-]{36}$/.test(id) ? id : null;
}

async function loadList() {
  const items = await campaigns.list();
  renderList(items, page.selected);
}

function showForm() {
  page.selected = null;
  page.campaign = null;
  $("campaign-new").hidden = false;
  $("campaign-detail").hidden = true;
  if (!$("quiet-from").value) {
    const [from, to] = (document.body.dataset.quietHours || "08:00-21:00").split("-");
    $("quiet-from").value = from;
    $("quiet-to").value = to;
  }
}

async function showCampaign(id) {
  const token = ++page.loading;
  page.selected = id;
  $("campaign-new").hidden = true;
  $("campaign-detail").hidden = false;
  const found = await campaigns.get(id);
  if (token !== page.loading) return;
  page.campaign = found.campaign;
  renderHead(found.campaign);
  const draft = found.campaign.state === "draft";
  $("campaign-preview").hidden = !draft;
  $("campaign-progress").hidden = draft;
  $("campaign-report").hidden = true;
  if (draft) {
    renderPreview(await campaigns.preview(id));
    return;
  }
  renderProgress(found.campaign, found.progress);
  if (FINISHED.has(found.campaign.state)) await showReport(id);
}

async function showReport(id) {
  const report = await campaigns.report(id);
  if (page.selected !== id) return;
  renderReport(report);
  $("campaign-report").hidden = false;
}

async function route() {
  const id = selectedFromHash();
  try {
    if (id) await showCampaign(id);
    else showForm();
    await loadList();
  } catch (error) {
    showFormError(error.message);
  }
}

/* ------------------------------------------------------------ creating */

function showFormError(text) {
  const box = $("campaign-form-error");
  box.textContent = text;
  box.hidden = !text;
}

function quietHours() {
  if (!$("quiet-on").checked) return false;
  return `${$("quiet-from").value}-${$("quiet-to").value}`;
}

/* -------------------------------------------------- channel and template */

function onWhatsApp() {
  return $("campaign-channel").value === "whatsapp";
}

async function showChannel() {
  const whatsapp = onWhatsApp();
  $("campaign-text-row").hidden = whatsapp;
  $("campaign-template-row").hidden = !whatsapp;
  if (whatsapp && page.templates === null) await loadTemplates();
}

async function loadTemplates() {
  const approved = (await templates.list()).filter((item) => item.status === "APPROVED");
  page.templates = approved;
  const select = $("campaign-template");
  select.replaceChildren(
    ...approved.map((item, index) => new Option(`${item.name} (${item.language})`, String(index))),
  );
  showTemplateHelp();
}

function chosenTemplate() {
  const index = $("campaign-template").value;
  return page.templates && index !== "" ? page.templates[Number(index)] : null;
}

function showTemplateHelp() {
  const chosen = chosenTemplate();
  const help = $("campaign-template-help");
  if (!page.templates || page.templates.length === 0) {
    help.textContent = "No approved template yet: sync them from the provider (Templates sync in the API) or add one.";
  } else if (chosen.parameters.length === 0) {
    help.textContent = "It takes no values.";
  } else {
    const names = chosen.parameters.map((name) => `“${name}”`).join(", ");
    help.textContent = `Its values come from the columns of your file named ${names}.`;
  }
}

function sendAt() {
  const value = $("campaign-send-at").value;
  return value ? new Date(value).toISOString() : null;
}

function campaignBody(name, text) {
  const body = { name, channel: $("campaign-channel").value, quiet_hours: quietHours() };
  if (onWhatsApp()) {
    const chosen = chosenTemplate();
    body.template = { name: chosen.name, language: chosen.language };
  } else {
    body.text = text;
  }
  const at = sendAt();
  if (at) body.send_at = at;
  return body;
}

function formProblem(name, text, file) {
  if (!name) return ["campaign-name", "Give the campaign a name."];
  if (onWhatsApp() && !chosenTemplate()) return ["campaign-template", "Choose an approved template."];
  if (!onWhatsApp() && !text) return ["campaign-text", "Write the message."];
  if (!file) return ["campaign-file", "Choose the CSV file of recipients."];
  if ($("quiet-on").checked && (!$("quiet-from").value || !$("quiet-to").value)) {
    return ["quiet-from", "Give both ends of the quiet hours, or untick them."];
  }
  return null;
}

async function createFromForm(event) {
  event.preventDefault();
  showFormError("");
  const name = $("campaign-name").value.trim();
  const text = $("campaign-text").value;
  const file = $("campaign-file").files[0];
  const problem = formProblem(name, text.trim(), file);
  if (problem) {
    showFormError(problem[1]);
    $(problem[0]).focus();
    return;
  }
  const button = $("campaign-preview-button");
  button.disabled = true;
  let draft = null;
  try {
    draft = (await campaigns.create(campaignBody(name, text))).campaign;
    await campaigns.uploadCsv(draft.id, file);
    $("campaign-form").reset();
    $("quiet-from").value = "";
    await showChannel();
    window.location.hash = draft.id;
  } catch (error) {
    // A file that cannot be read leaves no draft behind.
    if (draft) await campaigns.act(draft.id, "cancel").catch(() => {});
    showFormError(error.message);
  } finally {
    button.disabled = false;
  }
}

/* -------------------------------------------------------------- actions */

async function act(action, done) {
  const id = page.selected;
  const box = $("campaign-action-error");
  box.hidden = true;
  try {
    await campaigns.act(id, action);
    announce(done);
    if (action === "cancel" && page.campaign && page.campaign.state === "draft") {
      window.location.hash = "new";
      return;
    }
    await showCampaign(id);
    await loadList();
  } catch (error) {
    box.textContent = error.message;
    box.hidden = false;
  }
}

/* ------------------------------------------------------------ live events */

function onProgress(event) {
  const data = JSON.parse(event.data);
  if (data.id !== page.selected || !page.campaign) return;
  const stateChanged = data.state !== page.campaign.state;
  page.campaign = { ...page.campaign, state: data.state };
  renderHead(page.campaign);
  $("campaign-preview").hidden = true;
  $("campaign-progress").hidden = false;
  renderProgress(page.campaign, data);
  if (stateChanged) {
    announce(`Campaign ${stateLabel(data.state).toLowerCase()}`);
    loadList().catch(() => {});
    if (FINISHED.has(data.state)) showReport(data.id).catch(() => {});
  } else if (FINISHED.has(data.state) && !$("campaign-report").hidden) {
    showReport(data.id).catch(() => {}); // receipts still arrive after completion
  }
}

function setConnection(stateName, label) {
  $("connection").dataset.state = stateName;
  $("connection-label").textContent = label;
}

function connect() {
  const source = new EventSource("/api/v1/events");
  source.addEventListener("ready", () => {
    setConnection("live", "Live");
    route(); // events are not replayed: refetch what is on screen
  });
  source.addEventListener("campaign.progress", onProgress);
  source.addEventListener("error", () => {
    setConnection("offline", "Reconnecting…");
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      window.setTimeout(connect, 3000);
    }
  });
}

$("campaign-form").addEventListener("submit", createFromForm);
$("campaign-channel").addEventListener("change", () => showChannel().catch((error) => showFormError(error.message)));
$("campaign-template").addEventListener("change", showTemplateHelp);
$("campaign-start").addEventListener("click", () => act("start", "Campaign started"));
$("campaign-discard").addEventListener("click", () => act("cancel", "Draft discarded"));
$("campaign-pause").addEventListener("click", () => act("pause", "Campaign paused"));
$("campaign-resume").addEventListener("click", () => act("resume", "Campaign resumed"));
$("campaign-cancel").addEventListener("click", () => act("cancel", "Campaign cancelled"));
window.addEventListener("hashchange", route);
route();
connect();
