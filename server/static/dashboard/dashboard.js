// ContextQL live dashboard: snapshots over GraphQL/HTTP, changes over graphql-ws subscriptions.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const state = { prefix: normalise(params.get("path") || "/"), feed: 0, byOp: {}, byKind: {}, unsubscribe: [] };
  const wsUrl = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql";
  const client = graphqlWs.createClient({
    url: wsUrl,
    lazy: false,
    retryAttempts: Infinity,
    connectionParams: {},
    on: {
      connected: () => setStatus("live", "live"),
      closed: () => setStatus("closed", "disconnected, retrying…"),
      connecting: () => setStatus("connecting", "connecting…"),
    },
  });

  function normalise(path) {
    const parts = path.split("/").filter(Boolean);
    return "/" + parts.join("/");
  }
  function depthOf(path) { return path === "/" ? 0 : path.split("/").filter(Boolean).length; }
  function parentOf(path) { const i = path.lastIndexOf("/"); return i <= 0 ? "/" : path.slice(0, i); }
  function setStatus(s, text) { const el = $("status"); el.dataset.state = s; el.textContent = text; }
  function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }

  async function query(q, variables) {
    const response = await fetch("/graphql", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: q, variables }) });
    const body = await response.json();
    if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
    return body.data;
  }

  // ---- tree: children of a path are loaded on expand and reloaded when a change touches them
  const CHILDREN = `query($prefix: String!, $depth: Int!) {
    contexts(where: {path: {startsWith: $prefix}, depth: {eq: $depth}}, orderBy: [{field: PATH}], first: 100) {
      edges { node { id path name kind version children(first: 1) { totalCount } } } } }`;
  // Every change redraws the tree, and the answers of overlapping redraws can arrive in any order. So
  // which paths are open is kept by path, apart from the items drawn; an item's click acts on that item;
  // and an answer is drawn only into the list that is still on screen and still waiting for it. (Once a
  // late answer of an older redraw took over an item's state: the click then toggled an item no longer
  // shown, and the path never opened.)
  const open = new Set(); // paths shown expanded
  const nodes = new Map(); // path -> its item on screen (to flash it)
  let tickets = 0; // each load of a list takes one; only the list's latest is drawn
  let redraws = 0; // likewise for the whole tree

  function mark(hasChildren, expanded) { return hasChildren ? (expanded ? "▾" : "▸") : "·"; }

  async function loadChildren(path, ul) {
    const ticket = String(++tickets);
    ul.dataset.ticket = ticket;
    const prefix = path === "/" ? "/" : path + "/";
    const data = await query(CHILDREN, { prefix, depth: depthOf(path) + 1 });
    if (ul.dataset.ticket !== ticket || !ul.isConnected) return; // a newer load or redraw has it
    const seen = new Set();
    ul.replaceChildren();
    for (const { node } of data.contexts.edges) {
      seen.add(node.path);
      ul.appendChild(treeItem(node));
    }
    for (const known of [...nodes.keys()]) {
      if (parentOf(known) === path && !seen.has(known)) nodes.delete(known);
    }
  }

  function treeItem(node) {
    const hasChildren = node.children.totalCount > 0;
    const li = el("li"); li.setAttribute("role", "treeitem"); li.dataset.path = node.path;
    const line = el("span", "node");
    const toggle = el("span", "toggle", mark(hasChildren, open.has(node.path)));
    line.append(toggle, el("span", "name", node.name), el("span", "kind", node.kind), el("span", "version", "v" + node.version));
    const ul = el("ul"); ul.setAttribute("role", "group");
    li.append(line, ul);
    nodes.set(node.path, li);
    line.addEventListener("click", () => {
      if (!hasChildren) return;
      if (open.has(node.path)) {
        open.delete(node.path);
        ul.dataset.ticket = ""; // a load still under way must not reopen it
        ul.replaceChildren();
      } else {
        open.add(node.path);
        loadChildren(node.path, ul).catch((e) => addFeed("dropped", e.message, ""));
      }
      toggle.textContent = mark(hasChildren, open.has(node.path));
    });
    if (hasChildren && open.has(node.path)) loadChildren(node.path, ul).catch((e) => addFeed("dropped", e.message, ""));
    return li;
  }

  // Draw the watched subtree; open nodes stay open and are reloaded (treeItem does that).
  async function loadRoot() {
    $("tree-root").textContent = state.prefix;
    const ul = $("tree");
    if (state.prefix === "/") { await loadChildren("/", ul); return; }
    const redraw = ++redraws;
    const data = await query(`query($path: String!) { context(path: $path) { id path name kind version children(first: 1) { totalCount } } }`,
      { path: state.prefix });
    if (redraw !== redraws) return; // a newer redraw is under way
    ul.replaceChildren(...(data.context ? [treeItem(data.context)] : []));
  }

  // A change can add, remove or rename nodes anywhere on screen: redraw (debounced), keeping what is open.
  let timer = null;
  function refreshAround(path) {
    clearTimeout(timer);
    timer = setTimeout(() => {
      loadRoot().then(() => {
        const changed = nodes.get(path);
        if (changed && changed.isConnected) { changed.firstChild.classList.add("flash"); setTimeout(() => changed.firstChild.classList.remove("flash"), 1500); }
      }).catch((e) => addFeed("dropped", e.message, ""));
    }, 50);
  }

  // ---- feed and counts
  function bump(table, key) { table[key] = (table[key] || 0) + 1; }
  function renderCounts(id, table) {
    const body = $(id).tBodies[0]; body.replaceChildren();
    for (const [key, n] of Object.entries(table).sort((a, b) => b[1] - a[1])) {
      const tr = el("tr"); tr.append(el("td", null, key), el("td", null, String(n))); body.appendChild(tr);
    }
  }
  function addFeed(op, path, meta) {
    const li = el("li"); li.append(el("span", "op " + op, op), el("span", "path", path), el("span", "meta", meta));
    const feed = $("feed"); feed.prepend(li);
    while (feed.children.length > 200) feed.lastChild.remove();
    $("feed-count").textContent = String(++state.feed);
  }

  function onContext(event) {
    if (event.__typename === "EventsDropped") {
      addFeed("dropped", event.message, ""); loadRoot(); return;
    }
    bump(state.byOp, event.operation.toLowerCase()); bump(state.byKind, event.kind || "—");
    renderCounts("by-operation", state.byOp); renderCounts("by-kind", state.byKind);
    const what = event.fromPath ? `${event.fromPath} → ${event.path}` : event.path;
    addFeed(event.operation.toLowerCase(), what, `v${event.version ?? "–"} · ${event.principal.id} · ${new Date(event.at).toLocaleTimeString()}`);
    refreshAround(event.path);
    if (event.fromPath) refreshAround(event.fromPath);
  }
  function onExecution(event) {
    const list = $("executions");
    if (event.__typename === "EventsDropped") { list.prepend(el("li", "op dropped", event.message)); return; }
    const bad = event.status === "FAILED" || event.status === "TIMED_OUT";
    const li = el("li"); li.append(el("span", "op " + (bad ? "deleted" : "created"), event.status),
      el("span", "path", event.tool + (event.context ? " @ " + event.context.path : "")), el("span", "meta", new Date(event.at).toLocaleTimeString()));
    list.prepend(li);
    while (list.children.length > 50) list.lastChild.remove();
  }

  function subscribe(q, variables, onData) {
    return client.subscribe({ query: q, variables }, {
      next: (result) => { if (result.data) Object.values(result.data).forEach(onData); },
      error: (err) => addFeed("dropped", "subscription error: " + (err.message || JSON.stringify(err)), ""),
      complete: () => {},
    });
  }

  function watch(prefix) {
    state.unsubscribe.forEach((stop) => stop());
    state.prefix = normalise(prefix); state.feed = 0; state.byOp = {}; state.byKind = {};
    $("prefix").value = state.prefix; $("feed").replaceChildren(); $("feed-count").textContent = "0";
    renderCounts("by-operation", {}); renderCounts("by-kind", {});
    nodes.clear(); open.clear(); open.add(state.prefix); // the watched node starts open
    history.replaceState(null, "", "?path=" + encodeURIComponent(state.prefix));
    state.unsubscribe = [
      subscribe(`subscription($p: String!) { contextChanged(pathPrefix: $p) { __typename
        ... on ContextChangeEvent { operation path fromPath kind version at principal { id } }
        ... on EventsDropped { count message } } }`, { p: state.prefix }, onContext),
      subscribe(`subscription { toolExecutions { __typename
        ... on ToolExecutionEvent { operation tool status at context { path } }
        ... on EventsDropped { count message } } }`, {}, onExecution),
    ];
    loadRoot().catch((e) => addFeed("dropped", e.message, ""));
  }

  $("watch").addEventListener("submit", (e) => { e.preventDefault(); watch($("prefix").value); });
  watch(state.prefix);
})();
