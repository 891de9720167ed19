/* textbridge campaigns: rendering (the list, the preview, progress, the final report). */

export const $ = (id) => document.getElementById(id);

const fmtMoment = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const STATE_LABELS = {
  draft: "Draft",
  running: "Running",
  paused: "Paused",
  completed: "Completed",
  cancelled: "Cancelled",
};

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function announce(text) {
  $("announcer").textContent = text;
}

export function stateLabel(state) {
  return STATE_LABELS[state] || state;
}

export function money(amount, currency) {
  const value = Number(amount);
  if (!Number.isFinite(value)) return `${amount} ${currency}`;
  return new Intl.NumberFormat(undefined, { style: "currency", currency, maximumFractionDigits: 4 }).format(value);
}

export function renderList(items, selectedId) {
  const list = $("campaign-items");
  list.replaceChildren();
  for (const { campaign } of items) {
    const item = el("li");
    const link = el("a", "campaign-item");
    link.href = `#${campaign.id}`;
    link.dataset.testid = "campaign-item";
    if (campaign.id === selectedId) link.setAttribute("aria-current", "page");
    link.append(el("span", "campaign-item-name", campaign.name));
    const state = el("span", `pill state-${campaign.state}`, stateLabel(campaign.state));
    link.append(state, el("span", "campaign-item-count", `${campaign.recipients} recipients`));
    item.append(link);
    list.append(item);
  }
  $("campaign-list-empty").hidden = items.length > 0;
}

function figures(target, pairs) {
  const list = $(target);
  list.replaceChildren();
  for (const [label, value, testid] of pairs) {
    const box = el("div", "figure");
    const term = el("dt", null, label);
    const detail = el("dd", null, value);
    if (testid) detail.dataset.testid = testid;
    box.append(term, detail);
    list.append(box);
  }
}

function rows(target, data, cells) {
  const body = $(target);
  body.replaceChildren();
  for (const item of data) {
    const row = el("tr");
    for (const value of cells(item)) row.append(el("td", null, value));
    body.append(row);
  }
}

export function renderHead(campaign) {
  $("campaign-title").textContent = campaign.name;
  const state = $("campaign-state");
  state.textContent = stateLabel(campaign.state);
  state.className = `pill campaign-state state-${campaign.state}`;
  const template = campaign.template;
  const content = template ? `WhatsApp template ${template.name} (${template.language})` : campaign.text || "";
  const when = campaign.send_at ? ` · leaves from ${fmtMoment.format(new Date(campaign.send_at))}` : "";
  $("campaign-text-shown").textContent = content + when;
}

export function departureText(departures) {
  if (!departures) return "";
  const parts = [];
  parts.push(departures.quiet_hours ? `Quiet hours: messages leave between ${departures.quiet_hours.replace("-", " and ")}, each recipient's local time.` : "No quiet hours: messages leave at any hour.");
  if (departures.held) {
    const when = departures.next_leaves_at ? `; the first leave ${fmtMoment.format(new Date(departures.next_leaves_at))}` : "";
    parts.push(`${departures.held} ${departures.estimated ? "would wait" : "wait"} for their quiet hours to end${when}.`);
  }
  if (departures.scheduled) parts.push(`${departures.scheduled} wait for their send time.`);
  return parts.join(" ");
}

export function renderPreview(preview) {
  const { campaign } = preview;
  figures("preview-figures", [
    ["Recipients", campaign.recipients, "preview-recipients"],
    ["Left out: invalid", campaign.invalid, "preview-invalid-count"],
    ["Left out: duplicates", campaign.duplicates, "preview-duplicates"],
    ["Left out: opted out", preview.opted_out, "preview-opted-out"],
    ["Segments", campaign.segments, "preview-segments"],
    ["Estimated cost", money(campaign.cost_estimate, campaign.currency) + (campaign.unpriced ? ` (+${campaign.unpriced} unpriced)` : ""), "preview-cost"],
  ]);
  $("preview-departure").textContent = departureText(preview.departures);
  rows("preview-rows", preview.first_rows, (r) => [r.row, r.to, r.text, r.segments, r.price === null ? "—" : money(r.price, campaign.currency)]);
  rows("preview-invalid", preview.invalid_rows, (r) => [r.row, r.value, r.reason]);
  $("preview-invalid-block").hidden = preview.invalid_rows.length === 0;
  $("campaign-start").disabled = campaign.recipients === 0;
}

export function renderProgress(campaign, progress) {
  const total = progress.total || 0;
  const done = progress.done || 0;
  const bar = $("progress-bar");
  bar.max = Math.max(total, 1);
  bar.value = done;
  $("progress-label").textContent = `${done} of ${total} messages done`;
  figures("progress-figures", [
    ["Waiting", progress.waiting, "progress-waiting"],
    ["Sending", progress.sending, "progress-sending"],
    ["Sent", progress.submitted, "progress-sent"],
    ["Delivered", progress.delivered, "progress-delivered"],
    ["Failed", progress.failed, "progress-failed"],
    ["Unknown", progress.unknown, "progress-unknown"],
    ["Cancelled", progress.cancelled, "progress-cancelled"],
  ]);
  $("campaign-pause").hidden = campaign.state !== "running";
  $("campaign-resume").hidden = campaign.state !== "paused";
  $("campaign-cancel").hidden = !["running", "paused"].includes(campaign.state);
}

export function renderReport(report) {
  const { progress, skipped, cost } = report;
  figures("report-figures", [
    ["Messages", progress.total, "report-total"],
    ["Sent", progress.sent, "report-sent"],
    ["Delivered", progress.delivered, "report-delivered"],
    ["Failed", progress.failed, "report-failed"],
    ["Unknown", progress.unknown, "report-unknown"],
    ["Cancelled", skipped.cancelled, "report-cancelled"],
    ["Skipped: invalid", skipped.invalid, "report-invalid"],
    ["Skipped: duplicates", skipped.duplicate, "report-duplicates"],
    ["Skipped: opted out", skipped.opted_out, "report-opted-out"],
    ["Skipped: erased", skipped.erased, "report-erased"],
    ["Cost estimate", money(cost.estimate, cost.currency), "report-cost-estimate"],
    ["Cost of what was sent", money(cost.sent, cost.currency), "report-cost-sent"],
  ]);
  rows("report-failures", report.failed_by_reason, (r) => [r.code || "—", r.reason || "—", r.count]);
  $("report-failures-block").hidden = report.failed_by_reason.length === 0;
}
