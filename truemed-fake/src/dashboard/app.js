// The fake Truemed dashboard: one more client of the control API (/_fake/, described by
// openapi/fake-control.yaml). Every value that comes from the fake is put on the page as
// text (textContent, never innerHTML), and every request carries the key in a header.
'use strict';

(() => {
  const KEY_STORAGE = 'truemed-fake-dashboard-key';
  const POLL_MS = 750;
  const KNOWN_STATUSES = ['pending', 'processing', 'approved', 'rejected'];
  const REASONS = {
    200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
    301: 'Moved Permanently', 302: 'Found', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
    400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
    405: 'Method Not Allowed', 409: 'Conflict', 410: 'Gone', 422: 'Unprocessable Content',
    429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented',
    502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  };
  const OPERATIONS = {
    get_qualification_session: 'get',
    list_qualification_sessions: 'list',
    update_qualification_session: 'update',
  };

  const $ = (id) => document.getElementById(id);

  // -------------------------------------------------------------------------------------
  // The key: taken from the address's fragment (never sent to the server), kept in
  // sessionStorage, and removed from the address bar.
  // -------------------------------------------------------------------------------------

  let apiKey = null;

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORAGE);
    } catch (_) {
      return null;
    }
  }

  function storeKey(key) {
    apiKey = key;
    try {
      sessionStorage.setItem(KEY_STORAGE, key);
    } catch (_) {
      // Storage refused (a private mode): the key lives as long as the page.
    }
  }

  function takeKeyFromFragment() {
    const fragment = location.hash.startsWith('#') ? location.hash.slice(1) : '';
    if (!fragment.includes('key=')) return;
    const params = new URLSearchParams(fragment);
    const key = params.get('key');
    params.delete('key');
    const rest = params.toString();
    history.replaceState(history.state, '', location.pathname + location.search + (rest ? '#' + rest : ''));
    if (key) storeKey(key);
  }

  // -------------------------------------------------------------------------------------
  // The control API
  // -------------------------------------------------------------------------------------

  class ControlError extends Error {
    constructor(status, body) {
      const kind = body && typeof body.error === 'string' ? body.error : 'HTTP ' + status;
      const detail = body && typeof body.message === 'string' ? body.message : '';
      super(detail ? kind + ': ' + detail : kind);
      this.status = status;
    }
  }

  async function control(method, path, body) {
    const headers = { 'x-truemed-api-key': apiKey || '' };
    const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch('/_fake' + path, init);
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
    if (!response.ok) throw new ControlError(response.status, data);
    return data;
  }

  const sessionPath = (id) => '/sessions/' + encodeURIComponent(id);

  // -------------------------------------------------------------------------------------
  // Showing values as text
  // -------------------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  const shown = (value) => (value === null || value === undefined || value === '' ? '—' : String(value));

  function when(iso) {
    if (typeof iso !== 'string' || !iso) return '—';
    const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(iso);
    if (!match) return iso;
    const zone = match[3] === 'Z' || match[3] === '+00:00' ? ' UTC' : ' ' + match[3];
    return match[1] + ' ' + match[2] + zone;
  }

  // In the sessions table, whose times are all UTC (said once, above it), to the minute
  // (the detail has the seconds).
  function whenUtc(iso) {
    const shown = when(iso);
    const match = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}):\d{2} UTC$/.exec(shown);
    return match ? match[1] : shown;
  }

  function statusBadge(node, status) {
    const word = String(status);
    setText(node, word);
    const known = KNOWN_STATUSES.includes(word) ? word : 'other';
    const className = 'badge status-' + known;
    if (node.className !== className) node.className = className;
  }

  function httpStatus(code) {
    return 'HTTP ' + code + (REASONS[code] ? ' ' + REASONS[code] : '');
  }

  function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many);
  }

  // -------------------------------------------------------------------------------------
  // Messages
  // -------------------------------------------------------------------------------------

  function notify(text) {
    const problem = $('problem');
    problem.hidden = true;
    problem.textContent = '';
    $('notice').textContent = text;
  }

  function complain(error) {
    const problem = $('problem');
    problem.textContent = error instanceof Error ? error.message : String(error);
    problem.hidden = false;
    $('notice').textContent = '';
  }

  function needKey(message) {
    apiKey = null;
    try {
      sessionStorage.removeItem(KEY_STORAGE);
    } catch (_) {
      // Nothing stored.
    }
    $('key-panel').hidden = false;
    setLive(message, 'offline');
    $('key-input').focus();
  }

  function setLive(text, state) {
    const live = $('live');
    setText(live, text);
    live.className = 'live ' + (state || '');
  }

  // -------------------------------------------------------------------------------------
  // Sessions
  // -------------------------------------------------------------------------------------

  const sessionRows = new Map();
  let detailId = null;

  function sessionQuery() {
    const params = new URLSearchParams();
    const status = $('filter-status').value;
    const search = $('filter-search').value;
    if (status) params.set('status', status);
    if (search.trim()) params.set('search', search);
    const query = params.toString();
    return query ? '?' + query : '';
  }

  function actionButton(label, onClick) {
    const button = el('button', 'small', label);
    button.type = 'button';
    button.addEventListener('click', onClick);
    return button;
  }

  function makeSessionRow(id) {
    const tr = el('tr');
    const idCell = el('td', 'session-id');
    // A qs_<uuid> on one line; a longer id wraps.
    const code = el('code', id.length <= 48 ? 'id nowrap' : 'id', id);
    idCell.append(code);
    const status = el('td');
    const badge = el('span', 'badge');
    status.append(badge);
    const userId = el('td');
    const email = el('td', 'wrap');
    const created = el('td', 'time');
    const expires = el('td', 'time');
    const actions = el('td', 'actions');
    actions.append(
      actionButton('Approve', () => decide(id, 'approve')),
      actionButton('Reject', () => decide(id, 'reject')),
      actionButton('Details', () => openDetail(id)),
    );
    tr.append(idCell, status, userId, email, created, expires, actions);
    return { tr, badge, userId, email, created, expires };
  }

  function renderSessions(sessions) {
    const body = $('sessions-body');
    const seen = new Set();
    let previous = null;
    // Newest first: the API's order (created_at ascending), reversed.
    for (let i = sessions.length - 1; i >= 0; i -= 1) {
      const session = sessions[i];
      const id = session.qualification_session_id;
      seen.add(id);
      let row = sessionRows.get(id);
      if (!row) {
        row = makeSessionRow(id);
        sessionRows.set(id, row);
      }
      statusBadge(row.badge, session.status);
      setText(row.userId, shown(session.user_id));
      setText(row.email, shown(session.email));
      setText(row.created, whenUtc(session.created_at));
      setText(row.expires, whenUtc(session.expires_at));
      row.tr.classList.toggle('selected', id === detailId);
      const expected = previous ? previous.nextSibling : body.firstChild;
      if (expected !== row.tr) body.insertBefore(row.tr, expected);
      previous = row.tr;
    }
    for (const [id, row] of sessionRows) {
      if (!seen.has(id)) {
        row.tr.remove();
        sessionRows.delete(id);
      }
    }
    $('sessions-empty').hidden = sessions.length > 0;
    setText($('sessions-count'), plural(sessions.length, 'session', 'sessions') + (sessionQuery() ? ' match' : ''));
  }

  async function decide(id, verb) {
    try {
      const answer = await control('POST', sessionPath(id) + '/' + verb);
      const delivery = answer && answer.webhook_delivery_id
        ? '; webhook delivery ' + answer.webhook_delivery_id + ' started'
        : '; no webhook delivery started';
      notify((verb === 'approve' ? 'Approved ' : 'Rejected ') + id + delivery + '.');
    } catch (error) {
      complain(error);
    }
    refreshSoon();
  }

  const DETAIL_FIELDS = [
    ['qualification_session_id', 'ID'],
    ['status', 'Status'],
    ['user_id', 'User ID'],
    ['email', 'Email'],
    ['user_name', 'User name'],
    ['user_business_id', 'User business ID'],
    ['customer_status', 'Customer status'],
    ['session_type', 'Session type'],
    ['source', 'Source'],
    ['skus_param', 'SKUs'],
    ['eligible_amount', 'Eligible amount'],
    ['fee', 'Fee'],
    ['created_at', 'Created', when],
    ['expires_at', 'Expires', when],
    ['lmn_reviewed_at', 'LMN reviewed', when],
    ['charge_group_created_at', 'Charge group created', when],
    ['stripe_invoice_id', 'Stripe invoice ID'],
    ['stripe_invoice_number', 'Stripe invoice number'],
    ['stripe_invoice_paid_at', 'Stripe invoice paid', when],
    ['success_url', 'Success URL'],
    ['failure_url', 'Failure URL'],
  ];
  const detailValues = new Map();

  function buildDetailFields() {
    const list = $('detail-fields');
    for (const [name, label] of DETAIL_FIELDS) {
      const dd = el('dd', 'wrap');
      list.append(el('dt', '', label), dd);
      detailValues.set(name, dd);
    }
  }

  function openDetail(id) {
    detailId = id;
    $('detail').hidden = false;
    setText($('detail-title'), 'Session ' + id);
    $('detail-gone').hidden = true;
    $('status-input').value = '';
    for (const row of sessionRows.values()) row.tr.classList.remove('selected');
    const row = sessionRows.get(id);
    if (row) row.tr.classList.add('selected');
    refreshSoon();
    $('detail').scrollIntoView({ block: 'nearest' });
  }

  function closeDetail() {
    detailId = null;
    $('detail').hidden = true;
    for (const row of sessionRows.values()) row.tr.classList.remove('selected');
  }

  function renderDetail(session) {
    if (!session) {
      $('detail-gone').hidden = false;
      return;
    }
    $('detail-gone').hidden = true;
    for (const [name, , format] of DETAIL_FIELDS) {
      const value = session[name];
      setText(detailValues.get(name), format ? format(value) : shown(value));
    }
    setText($('detail-metadata'), session.metadata === null || session.metadata === undefined ? '—' : String(session.metadata));
    const keys = Array.isArray(session.idempotency_keys) ? session.idempotency_keys : [];
    const list = $('detail-keys');
    const current = Array.from(list.children, (li) => li.textContent);
    if (current.length !== keys.length || current.some((key, i) => key !== keys[i])) {
      list.replaceChildren(...keys.map((key) => el('li', 'wrap', key)));
    }
    $('detail-no-keys').hidden = keys.length > 0;
  }

  // -------------------------------------------------------------------------------------
  // Webhooks
  // -------------------------------------------------------------------------------------

  const deliveryCards = new Map();
  let endpointPristine = true;

  function renderEndpoint(endpoint) {
    const list = $('endpoint');
    const entries = [
      ['Receiver', endpoint.url === null ? 'none: completions are not delivered' : endpoint.url],
      ['Deliveries', endpoint.url === null ? '—' : (endpoint.signed ? 'signed' : 'unsigned')],
      ['Attempts', String(endpoint.attempts)],
      ['Backoff', endpoint.backoff_ms + ' ms, doubling'],
      ['Attempt timeout', endpoint.timeout_ms + ' ms'],
    ];
    if (list.children.length !== entries.length * 2) {
      list.replaceChildren();
      for (const [label] of entries) list.append(el('dt', '', label), el('dd', 'wrap'));
    }
    entries.forEach(([, value], i) => setText(list.children[i * 2 + 1], value));
    $('endpoint-clear').disabled = endpoint.url === null;
    if (endpointPristine) {
      $('endpoint-url').value = endpoint.url || '';
      $('endpoint-signed').value = endpoint.signed === false ? 'false' : 'true';
      $('endpoint-attempts').value = String(endpoint.attempts);
      $('endpoint-backoff').value = String(endpoint.backoff_ms);
      $('endpoint-timeout').value = String(endpoint.timeout_ms);
    }
  }

  function makeDeliveryCard(id) {
    const card = el('article', 'delivery');
    const head = el('div', 'delivery-head');
    const title = el('h4');
    title.append(el('code', 'id', id));
    const state = el('span', 'badge');
    head.append(title, state);
    const summary = el('p', 'delivery-summary');
    const table = el('table', 'attempts');
    const caption = el('caption', 'visually-hidden', 'Attempts of delivery ' + id);
    const thead = el('thead');
    const header = el('tr');
    for (const name of ['Attempt', 'Sent', 'Result', 'Took', 'Start of the answer']) {
      const th = el('th', '', name);
      th.scope = 'col';
      header.append(th);
    }
    thead.append(header);
    const tbody = el('tbody');
    table.append(caption, thead, tbody);
    const none = el('p', 'muted', 'No attempt finished yet.');
    card.append(head, summary, table, none);
    return { card, state, summary, table, tbody, none, attempts: 0 };
  }

  function attemptRow(attempt) {
    const tr = el('tr');
    tr.append(el('td', '', '#' + attempt.attempt), el('td', 'time', when(attempt.sent_at)));
    const result = el('td');
    if (attempt.status !== null && attempt.status !== undefined) {
      const ok = attempt.status >= 200 && attempt.status < 300;
      result.append(el('span', ok ? 'result ok' : 'result bad', httpStatus(attempt.status)));
    } else {
      result.append(el('span', 'result bad', 'no answer: ' + shown(attempt.error)));
    }
    const answer = el('td');
    if (attempt.response_body) {
      answer.append(el('pre', 'snippet', attempt.response_body));
    } else {
      answer.append(el('span', 'muted', attempt.status === null ? '—' : '(empty)'));
    }
    tr.append(result, el('td', '', attempt.duration_ms + ' ms'), answer);
    return tr;
  }

  function renderDeliveries(list) {
    const container = $('deliveries');
    const deliveries = list.deliveries;
    const seen = new Set();
    let previous = null;
    for (let i = deliveries.length - 1; i >= 0; i -= 1) {
      const delivery = deliveries[i];
      const id = delivery.webhook_delivery_id;
      seen.add(id);
      let entry = deliveryCards.get(id);
      if (!entry) {
        entry = makeDeliveryCard(id);
        deliveryCards.set(id, entry);
      }
      setText(entry.state, String(delivery.state));
      const stateClass = 'badge delivery-' + (['pending', 'delivered', 'failed'].includes(delivery.state) ? delivery.state : 'other');
      if (entry.state.className !== stateClass) entry.state.className = stateClass;
      const payload = delivery.payload || {};
      setText(entry.summary,
        'Session ' + delivery.qualification_session_id + ' became ' + shown(payload.status) +
        ' at ' + when(delivery.created_at) + '; ' + (delivery.signed ? 'signed' : 'unsigned') +
        ' ' + delivery.event_type + ' to ' + delivery.url + '.');
      const attempts = Array.isArray(delivery.attempts) ? delivery.attempts : [];
      if (attempts.length !== entry.attempts) {
        entry.tbody.replaceChildren(...attempts.map(attemptRow));
        entry.attempts = attempts.length;
      }
      entry.table.hidden = attempts.length === 0;
      entry.none.hidden = attempts.length > 0;
      const expected = previous ? previous.nextSibling : container.firstChild;
      if (expected !== entry.card) container.insertBefore(entry.card, expected);
      previous = entry.card;
    }
    for (const [id, entry] of deliveryCards) {
      if (!seen.has(id)) {
        entry.card.remove();
        deliveryCards.delete(id);
      }
    }
    $('deliveries-empty').hidden = deliveries.length > 0;
    const count = plural(list.total, 'delivery', 'deliveries');
    setText($('deliveries-count'), deliveries.length < list.total ? count + ', the newest ' + deliveries.length + ' shown' : count);
  }

  // -------------------------------------------------------------------------------------
  // Ledger, traffic, faults
  // -------------------------------------------------------------------------------------

  let ledgerShown = '';

  function renderLedger(ledger) {
    const updates = ledger.applied_updates;
    const fingerprint = JSON.stringify(updates);
    if (fingerprint !== ledgerShown) {
      ledgerShown = fingerprint;
      const rows = [];
      for (let i = updates.length - 1; i >= 0; i -= 1) {
        const update = updates[i];
        const tr = el('tr');
        const changed = el('td', 'wrap');
        const parts = [];
        for (const field of ['user_id', 'metadata', 'success_url', 'failure_url']) {
          if (update[field] !== null && update[field] !== undefined) parts.push(field + ' = ' + update[field]);
        }
        if (parts.length === 0) {
          changed.append(el('span', 'muted', 'nothing (the key alone)'));
        } else {
          for (const part of parts) changed.append(el('div', 'change', part));
        }
        tr.append(
          el('td', 'time', when(update.applied_at)),
          el('td', 'wrap', update.qualification_session_id),
          el('td', 'wrap', update.idempotency_key),
          changed,
        );
        rows.push(tr);
      }
      $('ledger-body').replaceChildren(...rows);
    }
    $('ledger-empty').hidden = updates.length > 0;
    const count = plural(ledger.total, 'update', 'updates') + ' applied';
    setText($('ledger-count'), updates.length < ledger.total ? count + ', the newest ' + updates.length + ' shown' : count);
  }

  const statNodes = new Map();

  function renderStats(stats) {
    const list = $('stats');
    for (const [name, value] of Object.entries(stats)) {
      let node = statNodes.get(name);
      if (!node) {
        const item = el('div', 'stat');
        node = el('dd', '', '');
        item.append(el('dt', '', name.replace(/_/g, ' ')), node);
        list.append(item);
        statNodes.set(name, node);
      }
      setText(node, String(value));
    }
  }

  function describeFault(fault) {
    switch (fault.kind) {
      case 'status':
        return httpStatus(fault.status) + (fault.retry_after_ms !== undefined ? ', Retry-After ' + fault.retry_after_ms + ' ms' : '');
      case 'drop_connection':
        return 'dropped connection';
      case 'lose_response':
        return 'lost response (applied, then dropped)';
      case 'delay':
        return 'delay of ' + fault.delay_ms + ' ms';
      default:
        return String(fault.kind);
    }
  }

  let faultsShown = '';

  function renderFaults(queue) {
    const fingerprint = JSON.stringify(queue.faults);
    if (fingerprint !== faultsShown) {
      faultsShown = fingerprint;
      $('faults-body').replaceChildren(...queue.faults.map((fault) => {
        const tr = el('tr');
        tr.append(
          el('td', '', describeFault(fault)),
          el('td', '', fault.operation ? (OPERATIONS[fault.operation] || fault.operation) : 'any'),
          el('td', '', fault.remaining + ' of ' + fault.times),
        );
        return tr;
      }));
    }
    $('faults-empty').hidden = queue.faults.length > 0;
    setText($('faults-count'), plural(queue.pending_faults, 'request hit', 'request hits') + ' queued');
  }

  function renderLatency(latency) {
    setText($('latency-now'), latency.latency_ms + ' ms');
  }

  // -------------------------------------------------------------------------------------
  // Polling: the whole page from the control API, every POLL_MS
  // -------------------------------------------------------------------------------------

  let inFlight = false;
  let again = false;
  let timer = null;

  function refreshSoon() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    refresh();
  }

  async function refresh() {
    if (!apiKey) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    const query = sessionQuery();
    const detail = detailId;
    try {
      const [sessions, deliveries, ledger, stats, faults, latency, endpoint] = await Promise.all([
        control('GET', '/sessions' + query),
        control('GET', '/webhooks'),
        control('GET', '/ledger'),
        control('GET', '/stats'),
        control('GET', '/faults'),
        control('GET', '/latency'),
        control('GET', '/webhook_endpoint'),
      ]);
      if (query === sessionQuery()) renderSessions(sessions.sessions);
      renderDeliveries(deliveries);
      renderLedger(ledger);
      renderStats(stats);
      renderFaults(faults);
      renderLatency(latency);
      renderEndpoint(endpoint);
      if (detail !== null && detail === detailId) {
        let record = sessions.sessions.find((s) => s.qualification_session_id === detail);
        if (!record) {
          try {
            record = await control('GET', sessionPath(detail));
          } catch (error) {
            if (!(error instanceof ControlError && error.status === 404)) throw error;
            record = null;
          }
        }
        if (detail === detailId) renderDetail(record);
      }
      $('key-panel').hidden = true;
      setLive('Live · updated ' + new Date().toLocaleTimeString(), 'online');
    } catch (error) {
      if (error instanceof ControlError && error.status === 401) {
        needKey('The key was refused: enter the fake\u2019s API key.');
      } else {
        setLive('Cannot reach the fake (' + (error && error.message ? error.message : String(error)) + '); retrying', 'offline');
      }
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        refresh();
      } else if (apiKey && timer === null) {
        timer = setTimeout(() => {
          timer = null;
          refresh();
        }, POLL_MS);
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // Forms
  // -------------------------------------------------------------------------------------

  // The non-empty fields of a form, as strings.
  function filled(form) {
    const body = {};
    for (const field of form.elements) {
      if (!field.name || field.type === 'submit' || field.type === 'button') continue;
      if (field.value !== '') body[field.name] = field.value;
    }
    return body;
  }

  function integer(value) {
    return value === undefined ? undefined : Number(value);
  }

  function onSubmit(id, handler) {
    $(id).addEventListener('submit', async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const buttons = form.querySelectorAll('button');
      buttons.forEach((button) => { button.disabled = true; });
      try {
        await handler(form);
      } catch (error) {
        complain(error);
      } finally {
        buttons.forEach((button) => { button.disabled = false; });
        refreshSoon();
      }
    });
  }

  function onClick(id, handler) {
    $(id).addEventListener('click', async () => {
      try {
        await handler();
      } catch (error) {
        complain(error);
      } finally {
        refreshSoon();
      }
    });
  }

  function wireForms() {
    $('key-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const key = $('key-input').value.trim();
      if (!key) return;
      storeKey(key);
      $('key-input').value = '';
      $('key-panel').hidden = true;
      setLive('Connecting…', '');
      refreshSoon();
    });

    $('filter-form').addEventListener('submit', (event) => event.preventDefault());
    for (const id of ['filter-status', 'filter-search']) {
      $(id).addEventListener('input', refreshSoon);
    }

    onSubmit('create-form', async (form) => {
      const created = await control('POST', '/sessions', filled(form));
      form.reset();
      notify('Created session ' + created.qualification_session_id + '.');
    });

    $('detail-close').addEventListener('click', closeDetail);
    onSubmit('status-form', async () => {
      const id = detailId;
      if (id === null) return;
      const status = $('status-input').value.trim();
      const answer = await control('POST', sessionPath(id) + '/status', { status });
      const delivery = answer && answer.webhook_delivery_id
        ? '; webhook delivery ' + answer.webhook_delivery_id + ' started'
        : '';
      notify('Session ' + id + ' is now ' + answer.session.status + delivery + '.');
      $('status-input').value = '';
    });
    onClick('detail-delete', async () => {
      const id = detailId;
      if (id === null) return;
      await control('DELETE', sessionPath(id));
      closeDetail();
      notify('Deleted session ' + id + '.');
    });

    const endpointForm = $('endpoint-form');
    endpointForm.addEventListener('input', () => { endpointPristine = false; });
    onSubmit('endpoint-form', async (form) => {
      const fields = filled(form);
      const body = { url: fields.url, secret: fields.secret, signed: fields.signed !== 'false' };
      for (const name of ['attempts', 'backoff_ms', 'timeout_ms']) {
        if (fields[name] !== undefined) body[name] = integer(fields[name]);
      }
      const endpoint = await control('PUT', '/webhook_endpoint', body);
      $('endpoint-secret').value = '';
      endpointPristine = true;
      renderEndpoint(endpoint);
      notify('Completions now go to ' + endpoint.url + ' (' + (endpoint.signed ? 'signed' : 'unsigned') + ').');
    });
    onClick('endpoint-clear', async () => {
      await control('DELETE', '/webhook_endpoint');
      endpointPristine = true;
      notify('Completions are no longer delivered.');
    });

    const kind = $('fault-kind');
    const showKindFields = () => {
      for (const field of document.querySelectorAll('#fault-form [data-kind]')) {
        field.hidden = field.dataset.kind !== kind.value;
      }
    };
    kind.addEventListener('change', showKindFields);
    showKindFields();
    onSubmit('fault-form', async (form) => {
      const fields = filled(form);
      const body = { kind: fields.kind };
      if (fields.kind === 'status') {
        body.status = integer(fields.status);
        if (fields.retry_after_ms !== undefined) body.retry_after_ms = integer(fields.retry_after_ms);
      }
      if (fields.kind === 'delay') body.delay_ms = integer(fields.delay_ms);
      if (fields.times !== undefined) body.times = integer(fields.times);
      if (fields.operation) body.operation = fields.operation;
      const queue = await control('POST', '/faults', body);
      renderFaults(queue);
      notify('Queued: ' + describeFault(queue.faults[queue.faults.length - 1] || body) + '.');
    });
    onClick('faults-clear', async () => {
      await control('DELETE', '/faults');
      notify('Cleared the queued faults and chaos.');
    });

    onSubmit('chaos-form', async (form) => {
      const fields = filled(form);
      const body = { probability: Number(fields.probability) };
      if (fields.seed !== undefined) body.seed = integer(fields.seed);
      if (fields.operation) body.operation = fields.operation;
      await control('POST', '/chaos', body);
      notify('Chaos on: probability ' + body.probability + ', seed ' + (body.seed === undefined ? 0 : body.seed) + '.');
    });
    onClick('chaos-stop', async () => {
      await control('DELETE', '/chaos');
      notify('Chaos off (queued faults stay).');
    });

    onSubmit('latency-form', async (form) => {
      const latency = await control('PUT', '/latency', { latency_ms: integer(filled(form).latency_ms) });
      renderLatency(latency);
      notify('Latency set to ' + latency.latency_ms + ' ms.');
    });

    onSubmit('reset-form', async () => {
      const empty = $('reset-empty').checked;
      await control('POST', '/reset', empty ? { sessions: 'none' } : {});
      $('reset-empty').checked = false;
      closeDetail();
      endpointPristine = true;
      notify(empty ? 'Reset, with no sessions.' : 'Reset to how the fake started.');
    });
  }

  function start() {
    takeKeyFromFragment();
    if (!apiKey) apiKey = storedKey();
    buildDetailFields();
    wireForms();
    if (!apiKey) {
      needKey('No key: enter the fake\u2019s API key.');
      return;
    }
    refresh();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
