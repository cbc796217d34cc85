// rowcast dashboard: invoices with live totals, and the live notification feed.
// No build step: plain ES modules. The live feed is the client library (client/, copied beside
// this file by `npm run build:client`), which resumes by itself after every reconnection.
import { RowcastClient, RowcastError } from './client/index.js';

const FEED_LIMIT = 200;
// The browser's locale decides how amounts and times read. rowcast records amounts, not their
// currency: an amount is the locale's money format with ¤, the sign for a currency left unnamed.
// (EUR is formatted only for where its sign goes and how it is spaced; the sign is replaced. XXX,
// "no currency", would say so, but browsers write it as letters, spaced as letters.)
const moneyFormat = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'EUR', currencyDisplay: 'narrowSymbol', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const integerFormat = new Intl.NumberFormat();
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

const $ = (id) => document.getElementById(id);
const invoices = new Map(); // id -> invoice as GET /invoices/:id returns it
const refreshing = new Map(); // id -> timer: coalesces bursts of changes to one fetch
const feed = []; // newest first
const tables = new Set();
let lastId; // the last notification id received (the sinks' lag counts up to it)
let subscription; // the live feed

// --- API key ----------------------------------------------------------------
// Once the service has API keys, every call needs one: the page asks for it and keeps it in
// this tab's session storage. While the service has none, no key is asked for.

const KEY_STORAGE = 'rowcast.apiKey';
const apiKey = () => sessionStorage.getItem(KEY_STORAGE) ?? undefined;

function askForKey(reason) {
  setStatus('API key needed', false);
  $('key-error').textContent = reason;
  $('key-form').hidden = false;
  $('api-key').focus();
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, $('api-key').value.trim());
  $('api-key').value = '';
  $('key-form').hidden = true;
  setStatus('Connecting…', false);
  // What the refused key could not load: stored notifications, tables, invoices, sinks.
  load();
});

/** What the page needs each scope for, in words: a refusal names the scope the key lacked. */
const SCOPE_USES = {
  'invoices:read': 'read invoices',
  'events:subscribe': 'follow changes live',
  'notifications:read': 'read notifications',
  'sinks:manage': 'list sinks',
  'consumers:manage': 'list consumer groups',
  admin: 'list backfills',
};

/**
 * Why a key was refused, in a few words for the prompt, from the status (401, 403) and the
 * service's message. Never the message itself: it speaks to programs (headers to send, JSON).
 */
function refusal(status, message = '') {
  if (!apiKey()) return 'This service needs an API key.';
  if (/revoked/i.test(message)) return 'That key was revoked: ask for a new one.';
  const scope = /lacks the scope (\S+)/.exec(message)?.[1];
  if (scope) return `That key may not ${SCOPE_USES[scope] ?? 'do this'} (it needs ${scope}).`;
  if (/may (not )?read only the tables|may not read/.test(message)) return 'That key may read only some tables; this page needs one for every table.';
  if (status === 403) return 'That key may not do this.';
  return 'That key was refused: it is not one of this service\'s keys (or not all of it was pasted).';
}

/** The live connection's refusals, as the status REST would have answered them with. */
const REFUSAL_STATUS = { UNAUTHORIZED: 401, KEY_REVOKED: 401, FORBIDDEN: 403 };

/**
 * GET with the key. A refused key asks for another and yields undefined; `quiet` (for what only
 * some keys may read) returns the refusal instead. A network failure yields undefined.
 */
async function api(path, { quiet = false } = {}) {
  const key = apiKey();
  const response = await fetch(path, key ? { headers: { Authorization: `Bearer ${key}` } } : {}).catch(() => undefined);
  if (!quiet && (response?.status === 401 || response?.status === 403)) {
    const body = await response.json().catch(() => undefined);
    askForKey(refusal(response.status, typeof body?.message === 'string' ? body.message : ''));
    return undefined;
  }
  return response;
}

/** An amount in minor units (cents) as money: exact for any total the API gives (up to 2^53 − 1). */
function money(minor) {
  const units = `${minor < 0 ? '-' : ''}${Math.floor(Math.abs(minor) / 100)}.${String(Math.abs(minor) % 100).padStart(2, '0')}`;
  return moneyFormat
    .formatToParts(units)
    .map((part) => (part.type === 'currency' ? '¤' : part.value))
    .join('');
}

/** Shows an amount, with what it is in a tooltip. */
function setMoney(data, minor) {
  data.value = String(minor);
  data.title = `${integerFormat.format(minor)} minor units / 100 (rowcast records no currency)`;
  setText(data, money(minor));
}

function setStatus(text, live) {
  $('status').textContent = text;
  document.body.classList.toggle('live', live);
}

// --- invoices ---------------------------------------------------------------

let olderInvoices; // the next page's cursor (GET /invoices is newest first), null when there is none
let shownPages = 0; // pages of invoices shown: a reload fetches as many again
let search = ''; // the start of the invoice numbers shown ('' for all), as GET /invoices?invoiceNo= takes it
let searches = 0; // counts searches: a page asked for before the latest one is not shown

/** One page of invoices (newest first), from `cursor` on; undefined when it could not be read. */
async function invoicePage(cursor) {
  const query = new URLSearchParams({ limit: '100' });
  if (cursor) query.set('cursor', cursor);
  if (search) query.set('invoiceNo', search);
  const response = await api(`/invoices?${query}`);
  return response?.ok ? response.json() : undefined;
}

function showOlderButton(cursor) {
  olderInvoices = cursor;
  $('invoices-more').hidden = !cursor;
}

/** The newest 100 invoices (in place of those shown); `more` appends the next (older) page. */
async function loadInvoices(more = false) {
  const asked = searches;
  const page = await invoicePage(more ? olderInvoices : undefined);
  if (!page || asked !== searches) return;
  if (!more) invoices.clear();
  for (const invoice of page.data) invoices.set(invoice.id, invoice);
  shownPages = more ? shownPages + 1 : 1;
  showOlderButton(page.nextCursor);
  renderInvoices();
}

$('invoices-more').addEventListener('click', () => loadInvoices(true));

/** Case aside, as the API compares (lower() on both sides). */
function matchesSearch(invoice) {
  return invoice.invoiceNo.toLowerCase().startsWith(search.toLowerCase());
}

let searchTimer;
$('invoice-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(searchInvoices, 250); // once typing pauses, not at every key
});
$('invoice-search').addEventListener('submit', (event) => {
  event.preventDefault();
  clearTimeout(searchTimer);
  searchInvoices();
});

function searchInvoices() {
  const wanted = $('invoice-no').value.trim();
  if (wanted === search) return;
  search = wanted;
  searches += 1;
  loadInvoices();
}

// A TRUNCATE or a schema change of invoices or invoice_items names no row: the invoices shown are
// read again, replacing them (a TRUNCATE invoices ... CASCADE leaves none). While a reload is under
// way, a single invoice's refresh is held back and done after it, so the reload's older page never
// overwrites a newer answer.
let reloading = false;
let reloadAgain = false; // another table event came during the reload: its page may predate it
let reloadTimer;
const heldBack = new Set(); // ids to refresh once the reload is done

function reloadInvoices() {
  if (reloading) reloadAgain = true;
  else reloadTimer ??= setTimeout(runReload, 50); // a TRUNCATE ... CASCADE sends one event per table
}

async function runReload() {
  reloadTimer = undefined;
  reloading = true;
  try {
    do {
      reloadAgain = false;
      const asked = searches;
      const fresh = [];
      let cursor;
      let pages = 0;
      do {
        const page = await invoicePage(cursor);
        if (!page) return; // what is shown stays until a later change
        if (asked !== searches) return; // another search replaced what is shown
        fresh.push(...page.data);
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor && pages < shownPages);
      invoices.clear();
      for (const invoice of fresh) invoices.set(invoice.id, invoice);
      shownPages = pages;
      showOlderButton(cursor);
      renderInvoices();
    } while (reloadAgain);
  } finally {
    reloading = false;
    for (const id of heldBack) refreshInvoice(id);
    heldBack.clear();
  }
}

function refreshInvoice(id) {
  if (!id || refreshing.has(id)) return;
  refreshing.set(
    id,
    setTimeout(async () => {
      refreshing.delete(id);
      if (reloading) return void heldBack.add(id);
      const response = await api(`/invoices/${encodeURIComponent(id)}`);
      if (!response) return;
      if (reloading) return void heldBack.add(id);
      if (response.status === 404) invoices.delete(id);
      else if (!response.ok) return;
      else {
        const invoice = await response.json();
        if (matchesSearch(invoice)) invoices.set(id, invoice);
        else invoices.delete(id); // renamed out of the search, or never in it
      }
      renderInvoices(id);
    }, 50),
  );
}

/**
 * Brings the table in line with `invoices`, touching only rows whose invoice changed and moving
 * none that kept their place: what the user opened (an expanded invoice, focus, scroll) stays.
 */
function renderInvoices(changedId) {
  const shown = [...invoices.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  const body = $('invoices').tBodies[0];
  const rows = new Map([...body.rows].map((row) => [row.dataset.invoiceId, row]));
  arrange(
    body,
    shown.map((invoice) => {
      const row = rows.get(invoice.id) ?? invoiceRow(invoice.id);
      if (shownInvoice.get(row) !== invoice) fillInvoiceRow(row, invoice);
      if (invoice.id === changedId) flash(row);
      return row;
    }),
  );
  $('invoices-empty').textContent = search ? `No invoice number starts with “${search}”.` : 'No invoices yet.';
  $('invoices-empty').hidden = shown.length > 0;
}

/**
 * Puts `elements` in `parent` in this order, moving only those out of place and removing the
 * others: an element left in place keeps what the user did with it (opened, focused, scrolled to).
 */
function arrange(parent, elements) {
  const keep = new Set(elements);
  for (const child of [...parent.children]) if (!keep.has(child)) child.remove();
  let next = parent.firstElementChild;
  for (const element of elements) {
    if (element === next) next = element.nextElementSibling;
    else parent.insertBefore(element, next);
  }
}

const shownInvoice = new WeakMap(); // row -> the invoice object it shows

/** An empty row for an invoice: its cells are filled, and refilled, by fillInvoiceRow. */
function invoiceRow(id) {
  const row = document.createElement('tr');
  row.dataset.invoiceId = id;
  const name = document.createElement('td');
  const details = document.createElement('details');
  details.append(document.createElement('summary'), document.createElement('ul'));
  name.append(details);
  const total = cell('', 'num total');
  total.append(document.createElement('data'));
  row.append(name, cell('', 'num'), total, timeCell());
  return row;
}

function fillInvoiceRow(row, invoice) {
  shownInvoice.set(row, invoice);
  const [name, count, total, updated] = row.cells;
  setText(name.querySelector('summary'), invoice.invoiceNo);
  name.querySelector('ul').replaceChildren(
    ...invoice.items.map((item) => {
      const li = document.createElement('li');
      li.textContent = `${item.quantity} × ${money(item.amountPerUnit)} = ${money(item.totalAmount)}`;
      return li;
    }),
  );
  setText(count, String(invoice.items.length));
  setMoney(total.firstElementChild, invoice.totalAmount);
  setTime(updated.firstElementChild, invoice.updatedAt);
}

/** Text is set only when it differs, so a screen reader and the selection are left alone otherwise. */
function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function flash(row) {
  row.classList.add('flash');
  clearTimeout(row.flashTimer);
  row.flashTimer = setTimeout(() => row.classList.remove('flash'), 1500);
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function timeCell() {
  const td = document.createElement('td');
  td.append(document.createElement('time'));
  return td;
}

/** A time as the locale writes date and time, the exact ISO 8601 timestamp in a tooltip. */
function setTime(time, iso) {
  time.dateTime = iso;
  time.title = iso;
  setText(time, dateTime.format(new Date(iso)));
}

// --- feed -------------------------------------------------------------------

function matchesFilters(notification) {
  const event = $('filter-event').value.trim();
  const table = $('filter-table').value;
  if (table && tableOf(notification) !== table) return false;
  if (!event) return true;
  return event.endsWith('.*') ? notification.event.startsWith(event.slice(0, -1)) : notification.event === event;
}

const feedEntries = new Map(); // notification id -> its entry, made once: one the user opened stays open

function feedEntry(notification) {
  let entry = feedEntries.get(notification.id);
  if (!entry) feedEntries.set(notification.id, (entry = feedItem(notification)));
  return entry;
}

/** An entry: a button (click, Enter or Space) that opens what the change did, below it. */
function feedItem(notification) {
  const li = document.createElement('li');
  li.dataset.notificationId = notification.id;
  const toggle = document.createElement('button');
  toggle.type = 'button';
  toggle.className = 'entry';
  toggle.setAttribute('aria-expanded', 'false');
  const time = document.createElement('time');
  setTime(time, notification.createdAt);
  const event = document.createElement('span');
  event.className = 'event';
  event.textContent = notification.event;
  const meta = document.createElement('span');
  meta.className = 'meta';
  const { actor, changedColumns } = notification.payload;
  meta.textContent = [`#${notification.id}`, whatChanged(notification.payload), `by ${actor}`, changedColumns?.join(', ')]
    .filter(Boolean)
    .join(' · ');
  toggle.append(time, event, meta);
  const details = document.createElement('div');
  details.className = 'change';
  details.id = `notification-${notification.id}`;
  details.hidden = true;
  toggle.setAttribute('aria-controls', details.id);
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    if (open && !details.firstChild) details.append(...changeDetails(notification.payload), deliveriesOf(notification.id)); // made when first opened
    toggle.setAttribute('aria-expanded', String(open));
    details.hidden = !open;
  });
  li.append(toggle, details);
  return li;
}

/**
 * What every sink and consumer group did with the notification (GET /notifications/:id/deliveries,
 * scope admin), loaded when its entry is first opened.
 */
function deliveriesOf(id) {
  const section = document.createElement('div');
  section.className = 'deliveries';
  section.append(paragraph('Deliveries: loading…'));
  api(`/notifications/${id}/deliveries`, { quiet: true }).then(async (response) => {
    if (response?.status === 401 || response?.status === 403) return section.replaceChildren(paragraph('Deliveries: listed for a key with the scope admin.'));
    if (!response?.ok) return section.replaceChildren(paragraph('Deliveries: not available.'));
    const { destinations } = await response.json();
    if (!destinations.length) return section.replaceChildren(paragraph('Deliveries: no sink or consumer group.'));
    const list = document.createElement('ul');
    list.append(...destinations.map(deliveryItem));
    section.replaceChildren(paragraph('Deliveries:'), list);
  });
  return section;
}

/** One destination's line: name (kind): status, when it was confirmed, attempts, why. */
function deliveryItem({ kind, name, status, reason, confirmedAt, deliveries, lastError }) {
  const li = document.createElement('li');
  li.dataset.destination = name;
  li.dataset.status = status;
  const state = document.createElement('span');
  state.className = `state state-${status}`;
  state.textContent = status.replace('_', ' ');
  const parts = [
    confirmedAt && `confirmed ${dateTime.format(new Date(confirmedAt))}`,
    deliveries > 1 && `${deliveries} ${kind === 'consumer' ? 'deliveries' : 'attempts'}`,
    reason,
    lastError && `last error: ${lastError}`,
  ].filter(Boolean);
  li.append(`${name} (${kind === 'consumer' ? 'consumer group' : kind}): `, state, parts.length ? ` · ${parts.join(' · ')}` : '');
  return li;
}

/** What a notification's change did, as its opened entry shows it. */
function changeDetails(payload) {
  const { op, pk, old, new: row, changedColumns, schemaChange } = payload;
  switch (op) {
    case 'UPDATE':
      if (!old) return [paragraph('Updated. Its table is captured without old rows, so only the row after the change is known:'), columnList(row)];
      if (!changedColumns?.length) return [paragraph('Updated, with every value as it was.')];
      return [paragraph('Updated:'), columnList(Object.fromEntries(changedColumns.map((column) => [column, [old[column], row?.[column]]])), { changes: true })];
    case 'INSERT':
      return [paragraph('Created:'), columnList(row)];
    case 'DELETE':
      return old ? [paragraph('Deleted:'), columnList(old)] : [paragraph('Deleted. Its table is captured without old rows: only its key is known:'), columnList(pk)];
    case 'TRUNCATE':
      return [paragraph(`Every row of ${qualified(payload.schema, payload.table)} was removed (TRUNCATE).`)];
    case 'SCHEMA_CHANGE':
      return schemaChange ? schemaDetails(schemaChange) : [paragraph(`The schema of ${qualified(payload.schema, payload.table)} changed.`)];
    case 'BACKFILL_STARTED':
    case 'BACKFILL_COMPLETED':
    case 'BACKFILL_STOPPED':
      return [paragraph(`Backfill ${row.id} of ${qualified(payload.schema, payload.table)}: ${describeBackfill(row)}.`)];
    default:
      return [paragraph(op)];
  }
}

function paragraph(text) {
  const p = document.createElement('p');
  p.textContent = text;
  return p;
}

function qualified(schema, table) {
  return schema === 'public' ? table : `${schema}.${table}`;
}

/** Columns and their values; `changes`: each value is [before, after], shown `before → after`. */
function columnList(values, { changes = false } = {}) {
  const list = document.createElement('dl');
  list.className = 'columns';
  for (const [column, value] of Object.entries(values ?? {})) {
    const name = document.createElement('dt');
    name.textContent = column;
    const shown = document.createElement('dd');
    if (changes) shown.append(valueSpan(value[0], 'before'), ' → ', valueSpan(value[1], 'after'));
    else shown.append(valueSpan(value));
    list.append(name, shown);
  }
  return list;
}

/** A column's value as JSON gives it: text as it is (quoted when empty), null and others marked. */
function valueSpan(value, className) {
  const span = document.createElement('span');
  span.className = ['value', className, typeof value === 'string' ? '' : 'literal'].filter(Boolean).join(' ');
  span.textContent = value === undefined ? '—' : typeof value === 'string' ? value || '""' : JSON.stringify(value);
  return span;
}

/** A DDL command's effect: the table's name, key and columns before and after it. */
function schemaDetails({ command, before, after }) {
  const summary = paragraph(`${command}: ${describeSchemaChange({ command, before, after })}.`);
  const table = document.createElement('table');
  table.className = 'shapes';
  const head = table.createTHead().insertRow();
  for (const text of ['', 'Before', 'After']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = text;
    head.append(th);
  }
  const shape = (tableShape, what) => {
    if (!tableShape) return what === 'table' ? 'dropped: no longer captured' : '—';
    if (what === 'table') return qualified(tableShape.schema, tableShape.table);
    if (what === 'key') return tableShape.key ? tableShape.key.join(', ') : 'none (the whole row)';
    return tableShape.columns.map((column) => `${column.name} ${column.type}`).join('\n'); // one a line (pre-line)
  };
  const body = table.createTBody();
  for (const [label, what] of [['Table', 'table'], ['Key', 'key'], ['Columns', 'columns']]) {
    const tr = body.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = label;
    tr.append(th, cell(shape(before, what), `shape-${what}`), cell(shape(after, what), `shape-${what}`));
  }
  return [summary, table];
}

/** A row's key, or what a table-level change did to the whole table. */
function whatChanged({ op, pk, schemaChange, new: row }) {
  if (op === 'TRUNCATE') return 'all rows removed';
  if (op === 'SCHEMA_CHANGE') return schemaChange ? describeSchemaChange(schemaChange) : 'schema changed';
  if (op.startsWith('BACKFILL_')) return `backfill ${row.id} ${describeBackfill(row)}`;
  return Object.values(pk ?? {}).join(', ');
}

/** A backfill's start or end, as its own event tells it: "started", "completed: 5000 rows", "failed: …". */
function describeBackfill({ state, rows, error }) {
  if (state === 'running') return 'started';
  return `${state}: ${rows} rows${error ? ` (${error})` : ''}`;
}

/** What a DDL command changed, in a few words: "renamed to x; added note (text); dropped label". */
function describeSchemaChange({ command, before, after }) {
  if (!after) return 'table dropped';
  const changes = [];
  if (after.schema !== before.schema) changes.push(`moved to schema ${after.schema}`);
  if (after.table !== before.table) changes.push(`renamed to ${after.table}`);
  const key = (shape) => (shape.key ? shape.key.join(', ') : 'none');
  if (key(before) !== key(after)) changes.push(`key ${key(before)} → ${key(after)}`);
  const typeBefore = new Map(before.columns.map((column) => [column.name, column.type]));
  const typeAfter = new Map(after.columns.map((column) => [column.name, column.type]));
  const added = after.columns.filter((column) => !typeBefore.has(column.name));
  const dropped = before.columns.filter((column) => !typeAfter.has(column.name));
  const retyped = after.columns.filter((column) => typeBefore.has(column.name) && typeBefore.get(column.name) !== column.type);
  if (added.length) changes.push(`added ${added.map((column) => `${column.name} (${column.type})`).join(', ')}`);
  if (dropped.length) changes.push(`dropped ${dropped.map((column) => column.name).join(', ')}`);
  if (retyped.length) changes.push(`retyped ${retyped.map((column) => `${column.name} ${typeBefore.get(column.name)} → ${column.type}`).join(', ')}`);
  return changes.length ? changes.join('; ') : `${command}, no change to its columns or key`;
}

function renderFeed() {
  const shown = feed.filter(matchesFilters);
  arrange($('notifications'), shown.map(feedEntry));
  $('feed-empty').hidden = shown.length > 0;
}

/** The table as filters and GET /tables name it: `invoices`, `sales.orders` outside public. */
function tableOf({ payload }) {
  return qualified(payload.schema, payload.table);
}

function addTable(table) {
  if (tables.has(table)) return;
  tables.add(table);
  const option = document.createElement('option');
  option.value = option.textContent = table;
  $('filter-table').append(option);
}

function onNotification(notification) {
  lastId = notification.id;
  feed.unshift(notification);
  for (const dropped of feed.splice(FEED_LIMIT)) {
    feedEntries.get(dropped.id)?.remove();
    feedEntries.delete(dropped.id);
  }
  addTable(tableOf(notification));
  if (matchesFilters(notification)) {
    $('notifications').prepend(feedEntry(notification));
    $('feed-empty').hidden = true;
  }
  followInvoices(notification.payload);
}

const INVOICE_TABLES = new Set(['invoices', 'invoice_items']);

/** Keeps the invoices panel in line with a change to one of its tables. */
function followInvoices({ table, op, pk, new: row, old }) {
  if (!INVOICE_TABLES.has(table) || op.startsWith('BACKFILL_')) return; // a backfill's start or end changes no row
  if (op === 'TRUNCATE' || op === 'SCHEMA_CHANGE') return reloadInvoices(); // no row says what went
  if (table === 'invoices') return refreshInvoice(pk.id);
  refreshInvoice(row?.invoice_id);
  if (old && old.invoice_id !== row?.invoice_id) refreshInvoice(old.invoice_id); // moved or deleted
}

// --- sinks and consumer groups ---------------------------------------------------
// Each shown when the key may list them (its scope, or while the service has no keys); a key
// without that scope still sees invoices and the feed.

const DESTINATIONS_REFRESH_MS = 2000;

/**
 * A table of destinations polled from `path`: `refused` once the key may not list them (no polling
 * until another key is given). `shown` picks the items the table lists (all by default).
 */
function destinationList({ path, id, scope, empty, row, shown = () => true }) {
  const list = {
    refused: false,
    async load() {
      const response = await api(path, { quiet: true });
      if (!response) return;
      if (response.status === 401 || response.status === 403) {
        list.refused = true;
        $(`${id}-note`).textContent = `Listed for a key with the scope ${scope}.`;
        $(id).hidden = true;
        return;
      }
      if (!response.ok) return;
      const items = (await response.json()).filter(shown);
      $(id).hidden = items.length === 0;
      $(`${id}-note`).textContent = items.length ? '' : empty;
      $(id).tBodies[0].replaceChildren(...items.map(row));
    },
  };
  return list;
}

// Lag: notifications after the sink's position, up to the last one this page has heard of.
const sinks = destinationList({
  path: '/sinks',
  id: 'sinks',
  scope: 'sinks:manage',
  empty: 'No sinks yet: create one with POST /webhooks or POST /sinks (see the API docs).',
  row: sinkRow,
});

// Lag as the service measures it: notifications after the group's position, and the age of the oldest.
const consumers = destinationList({
  path: '/consumers',
  id: 'consumers',
  scope: 'consumers:manage',
  empty: 'No consumer groups yet: create one with POST /consumers (see the API docs).',
  row: consumerRow,
});

// The lags each destination had at its last refreshes (about two minutes), for its sparkline.
const LAG_SAMPLES = 60;
const lagHistory = new Map(); // `${kind}:${name}` -> lags, oldest first

/** Records a destination's lag and gives a cell with the number and a sparkline of its recent lags. */
function lagCell(key, lag, text) {
  const samples = lagHistory.get(key) ?? [];
  samples.push(lag);
  if (samples.length > LAG_SAMPLES) samples.shift();
  lagHistory.set(key, samples);
  const td = cell(text, 'num lag');
  td.append(sparkline(samples));
  return td;
}

/** A small line of `values` (the newest on the right), scaled to the largest; flat at the bottom while all are 0. */
function sparkline(values) {
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', `0 0 ${LAG_SAMPLES - 1} 16`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-label', `lag over the last ${values.length} refreshes: ${values.join(', ')}`);
  svg.setAttribute('role', 'img');
  const top = Math.max(...values, 1);
  const line = document.createElementNS(svgNs, 'polyline');
  const start = LAG_SAMPLES - values.length;
  line.setAttribute('points', values.map((value, i) => `${start + i},${(15 - (value / top) * 14).toFixed(1)}`).join(' '));
  svg.append(line);
  return svg;
}

function consumerRow(group) {
  const row = document.createElement('tr');
  row.dataset.group = group.name;
  const seconds = group.lag.seconds < 1 ? '' : ` · ${Math.round(group.lag.seconds)} s`;
  const error = cell(group.lastError ?? '—', 'error');
  if (group.lastErrorAt) error.title = `at ${group.lastErrorAt}`;
  row.append(
    cell(group.name),
    cell(group.paused ? 'paused' : group.order === 'key' ? 'per row' : 'any', group.paused ? 'state state-paused' : ''),
    lagCell(`consumer:${group.name}`, Number(group.lag.ids), `${group.lag.ids}${seconds}`),
    cell(String(group.pending), 'num pending'),
    cell(String(group.inFlight), 'num in-flight'),
    cell(String(group.deadLetters), 'num dead'),
    error,
  );
  return row;
}

// --- backfills ----------------------------------------------------------------------
// Those under way, and those that finished in the last minute (so a bar is seen to reach its end).

const BACKFILLS_REFRESH_MS = 1000;
const FINISHED_SHOWN_MS = 60_000;

const backfills = destinationList({
  path: '/backfills',
  id: 'backfills',
  scope: 'admin',
  empty: 'No backfill under way: start one with npm run capture -- backfill <table> or POST /backfills.',
  row: backfillRow,
  shown: ({ state, finishedAt }) => state === 'running' || state === 'paused' || Date.now() - Date.parse(finishedAt) < FINISHED_SHOWN_MS,
});

function backfillRow(backfill) {
  const row = document.createElement('tr');
  row.dataset.backfillId = backfill.id;
  const finished = backfill.state === 'completed';
  // The estimate is the planner's: the rows read may pass it before the end.
  const max = Math.max(backfill.estimate, backfill.rowsDone, 1);
  const bar = document.createElement('progress');
  bar.max = max;
  bar.value = finished ? max : backfill.rowsDone;
  const share = Math.floor((bar.value / max) * 100);
  bar.setAttribute('aria-label', `${backfill.table}: ${share}% read`);
  const rows = document.createElement('span');
  rows.className = 'rows';
  rows.textContent = `${integerFormat.format(backfill.rowsDone)} of ${finished ? '' : '~'}${integerFormat.format(backfill.estimate)} rows (${share}%)`;
  const progress = cell('', 'progress');
  progress.append(bar, rows);
  const state = cell(backfill.state, `state state-${backfill.state}`);
  if (backfill.error) state.title = backfill.error;
  row.append(
    cell(backfill.table),
    state,
    progress,
    cell(backfill.rate === null ? '—' : `${integerFormat.format(backfill.rate)} rows/s`, 'num rate'),
    cell(backfill.state === 'running' && backfill.etaSeconds !== null ? duration(backfill.etaSeconds) : '—', 'num eta'),
  );
  return row;
}

/** Seconds as people say them: 42 s, 3 min 5 s, 2 h 10 min. */
function duration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function sinkRow(sink) {
  const row = document.createElement('tr');
  row.dataset.sinkId = sink.id;
  const lag = lastId === undefined ? undefined : BigInt(lastId) > BigInt(sink.position) ? BigInt(lastId) - BigInt(sink.position) : 0n;
  const error = cell(sink.lastError === null ? '—' : sink.recoveredAt ? `${sink.lastError} (recovered ${dateTime.format(new Date(sink.recoveredAt))})` : sink.lastError, 'error');
  if (sink.lastErrorAt) error.title = `at ${sink.lastErrorAt}`;
  const lagShown = lag === undefined ? cell('—', 'num lag') : lagCell(`sink:${sink.id}`, Number(lag), String(lag));
  row.append(cell(sink.name), cell(sink.kind), cell(sink.state, `state state-${sink.state}`), lagShown, lastDeliveredCell(sink), error);
  return row;
}

/** When the sink's receiver last confirmed a notification, and which. */
function lastDeliveredCell({ lastDeliveredId, lastDeliveredAt }) {
  const td = cell(lastDeliveredId === null ? 'nothing yet' : '', 'delivered');
  if (lastDeliveredId === null) return td;
  const time = document.createElement('time');
  setTime(time, lastDeliveredAt);
  td.append(time, ` · #${lastDeliveredId}`);
  return td;
}

// --- capture problems ---------------------------------------------------------
// GET /health (public) names what keeps capture from being complete, such as a captured table's
// trigger disabled by hand: changes to that table are then missing from the feed and the sinks.

const HEALTH_REFRESH_MS = 3000;

let shownProblems = ''; // the problems the banner shows, as JSON: it is rebuilt (and announced) only when they change

async function loadHealth() {
  const response = await api('/health', { quiet: true });
  // 503 (the database or the listener down) has the same body.
  const health = await response?.json().catch(() => undefined);
  if (Array.isArray(health?.capture?.problems)) renderCaptureProblems(health.capture.problems);
}

function renderCaptureProblems(problems) {
  const shown = JSON.stringify(problems);
  if (shown === shownProblems) return;
  shownProblems = shown;
  const banner = $('capture-problems');
  if (!problems.length) return banner.replaceChildren();
  const title = document.createElement('p');
  const strong = document.createElement('strong');
  strong.textContent = 'Capture is incomplete';
  title.append(strong, ': some changes are not turned into notifications.');
  const list = document.createElement('ul');
  list.append(...problemsByTable(problems).map(([table, what]) => captureProblemItem(table, what)));
  banner.replaceChildren(title, list);
}

/** [table (null: the whole database), its problems] in the order /health lists them. */
function problemsByTable(problems) {
  const byTable = new Map();
  for (const { table, problem } of problems) byTable.set(table, [...(byTable.get(table) ?? []), problem]);
  return [...byTable];
}

function captureProblemItem(table, problems) {
  const li = document.createElement('li');
  const what = problems.join('; ');
  if (table === null) {
    li.textContent = `${what[0].toUpperCase()}${what.slice(1)}.`;
    return li;
  }
  const name = document.createElement('strong');
  name.textContent = table;
  const command = document.createElement('code');
  command.textContent = `npm run capture -- enable ${table}`;
  li.append(name, `: ${what}. Re-arm it with `, command, '.');
  return li;
}

// --- live feed -----------------------------------------------------------------

// The key is read at every connection: one typed into the form is used from then on.
const client = new RowcastClient({ url: location.origin, apiKey });

let wasLive = false;

/** Every notification after lastId (from now on, the first time); reconnections resume by themselves. */
function follow() {
  subscription = client.subscribe({}, onNotification, {
    since: lastId,
    onStatus: (status) => {
      if (status === 'live') {
        wasLive = true;
        setStatus('Live', true);
        if (invoices.size === 0) loadInvoices();
      } else {
        setStatus(status === 'paused' ? 'Disconnected' : wasLive ? 'Reconnecting…' : 'Connecting…', false);
      }
    },
    onError: (error) => {
      if (!(error instanceof RowcastError)) throw error; // this page's own bug: leave it to the console
      if (!error.fatal) return; // a slow reader, a restart: the client resumes by itself
      if (error.code in REFUSAL_STATUS) askForKey(refusal(REFUSAL_STATUS[error.code], error.code === 'KEY_REVOKED' ? 'revoked' : error.message));
      else if (error.code === 'SINCE_EXPIRED') resync();
      else setStatus(`Subscription refused: ${error.message}`, false);
    },
  });
}

/** Retention deleted notifications this page had not seen: reload the invoices, follow from now on. */
async function resync() {
  setStatus('Re-syncing…', false);
  lastId = undefined;
  invoices.clear();
  await loadInvoices();
  follow();
}

/**
 * The table filter lists every captured table from the start (GET /tables), not only the ones seen
 * since the page opened. A key without notifications:read falls back to those seen.
 */
async function loadTables() {
  const response = await api('/tables', { quiet: true });
  if (response?.ok) for (const { table } of await response.json()) addTable(table);
}

/**
 * The feed starts with the newest stored notifications (GET /notifications?tail=true), and goes on
 * live from the last of them with no gap. A key without notifications:read starts from now.
 */
async function loadHistory() {
  const response = await api(`/notifications?tail=true&limit=${FEED_LIMIT}`, { quiet: true });
  if (!response?.ok) return;
  const { data } = await response.json();
  for (const notification of data) {
    lastId = notification.id;
    feed.unshift(notification);
    addTable(tableOf(notification));
  }
  for (const dropped of feed.splice(FEED_LIMIT)) feedEntries.delete(dropped.id);
  renderFeed();
}

/**
 * Everything the page shows, then the live feed: when it opens, and again once a key is given
 * (what a refused key asked for is asked again). The stored notifications only while the page has
 * seen none; after that the feed resumes from the last one it saw.
 */
function load() {
  for (const list of [sinks, consumers, backfills]) {
    list.refused = false;
    list.load();
  }
  loadHealth();
  loadTables(); // invoices: once the feed is live, so no change falls between the two
  const history = lastId === undefined ? loadHistory() : Promise.resolve();
  history.finally(() => {
    // A refused key ended the subscription: follow again from the last notification seen. A live
    // one connects again, with the key given (what it may read is the new key's), and resumes.
    if (!subscription || subscription.closed) follow();
    else {
      client.disconnect();
      client.connect();
    }
  });
}

$('filters').addEventListener('input', renderFeed);
$('filters').addEventListener('submit', (event) => event.preventDefault());
load();
// Not while the tab is hidden, nor for a key that may not list them.
setInterval(() => {
  for (const list of [sinks, consumers]) if (!list.refused && !document.hidden) list.load();
}, DESTINATIONS_REFRESH_MS);
setInterval(() => {
  if (!document.hidden) loadHealth();
}, HEALTH_REFRESH_MS);
setInterval(() => {
  if (!backfills.refused && !document.hidden) backfills.load();
}, BACKFILLS_REFRESH_MS);

// A handle for the browser console (and the end-to-end test).
window.rowcast = {
  disconnect: () => client.disconnect(),
  connect: () => client.connect(),
  get lastId() {
    return lastId;
  },
};
