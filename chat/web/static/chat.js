// The page: an IRC client over the server's own WebSocket (text.ircv3.net).
// Plain ES module, no build step. User text only ever reaches the page as
// text (textContent), never as HTML.

const $ = (id) => document.getElementById(id);
const LOBBY = "#lobby";

// One IRC line: tags, source, verb, parameters (IRCv3 message format).
export function parse(line) {
  const message = { tags: {}, source: "", verb: "", params: [] };
  let rest = line;
  if (rest.startsWith("@")) {
    const end = rest.indexOf(" ");
    for (const pair of rest.slice(1, end).split(";")) {
      const at = pair.indexOf("=");
      const name = at < 0 ? pair : pair.slice(0, at);
      const value = at < 0 ? "" : pair.slice(at + 1).replace(/\\(.)/g, (_, c) =>
        ({ ":": ";", s: " ", r: "\r", n: "\n", "\\": "\\" })[c] ?? c);
      message.tags[name] = value;
    }
    rest = rest.slice(end + 1).trimStart();
  }
  if (rest.startsWith(":")) {
    const end = rest.indexOf(" ");
    message.source = rest.slice(1, end);
    rest = rest.slice(end + 1).trimStart();
  }
  while (rest.length) {
    if (rest.startsWith(":")) { message.params.push(rest.slice(1)); break; }
    const end = rest.indexOf(" ");
    if (end < 0) { message.params.push(rest); break; }
    message.params.push(rest.slice(0, end));
    rest = rest.slice(end + 1).trimStart();
  }
  message.verb = message.params.shift()?.toUpperCase() ?? "";
  return message;
}

const nickOf = (source) => source.split("!")[0];
const isRoom = (target) => target.startsWith("#") || target.startsWith("&");
// Whether C{name} is the room or conversation shown.
const current = (name) => name.toLowerCase() === state.current.toLowerCase();

const state = {
  socket: null, me: "", password: "", registering: "", wanted: new Set([LOBBY]), current: LOBBY,
  targets: new Map(), retry: 0, registered: false,
  // Messages of several lines being received (IRCv3 multiline), by batch reference.
  batches: new Map(), sent: 0,
  // Pages of history being received (IRCv3 chathistory), by batch reference.
  pages: new Map(),
  // The conversations listed on a new device: in this answer, the time of
  // the last, and the answers so far.
  listed: { ref: "", count: 0, last: "", pages: 0 },
};

// Messages asked for at once: on entering a room, and on scrolling back.
const PAGE = 50;
// Messages asked for at once when catching up after a reconnection, and
// pages of them at most: past that, a line says more was missed.
const CATCHING_UP = 100;
const CATCH_UP_PAGES = 10;

// What the server takes in one message of several lines (CAP LS says).
const MULTILINE = { bytes: 4096, lines: 32 };

function target(name) {
  const key = name.toLowerCase();
  let t = state.targets.get(key);
  if (!t) {
    // marker: how far it is read (IRCv3 read-marker, kept by the server
    // across the user's devices), in ms; before: the marker as the page
    // first learnt it, where the "new" divider goes.
    // asked: the pages of history asked for, in order (the server answers
    // in order); more: older messages may be kept than those shown.
    t = { name, lines: [], seen: new Set(), unread: 0, people: new Set(), ops: new Set(), topic: "",
          marker: 0, before: null, divided: false, marking: null, asked: [], more: false,
          // The room's modes that the settings show (letters), and its key.
          modes: new Set(), key: "" };
    state.targets.set(key, t);
    drawTargets();
  }
  return t;
}

function send(line) {
  if (state.socket?.readyState === WebSocket.OPEN) state.socket.send(line);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/`, ["text.ircv3.net"]);
  state.socket = socket;
  state.registered = false;
  socket.onopen = () => {
    $("status").textContent = "";
    send("CAP LS 302");
    if (state.password) send(`PASS ${state.password}`);
    send(`NICK ${state.me}`);
    send(`USER ${state.me} 0 * :${state.me}`);
  };
  socket.onmessage = (e) => handle(parse(String(e.data)));
  socket.onclose = () => {
    if (state.socket !== socket) return;
    if (!state.me) return;
    // Back off: 1, 2, 4 ... up to 30 seconds between tries.
    const wait = Math.min(30, 2 ** state.retry++);
    $("status").textContent = `Disconnected; trying again in ${wait} s`;
    $("login-status").textContent = $("status").textContent;
    setTimeout(connect, wait * 1000);
  };
}

function handle(m) {
  const [a, b] = m.params;
  switch (m.verb) {
    case "PING": send(`PONG :${a ?? ""}`); break;
    case "CAP":
      // batch: the history replayed on JOIN comes as a chathistory batch,
      // its lines as they were said (without one, the server dates them in
      // their text for clients that cannot tell them from live ones).
      // draft/chathistory: the page asks for a room's past itself (none
      // comes on JOIN): the last page on entering, what it missed after a
      // reconnection, older pages on scrolling back.
      if (b === "LS") send("CAP REQ :server-time echo-message batch message-tags draft/chathistory draft/read-marker draft/message-redaction draft/multiline");
      else if (b === "ACK" || b === "NAK") send("CAP END");
      break;
    case "001": {
      const first = !state.targets.size || [...state.targets.values()].every((t) => !t.lines.length);
      state.me = a; state.registered = true; state.retry = 0;
      if (state.registering) {
        // Register the nickname now it is ours (NickServ answers); from
        // then on the password is given on every reconnection.
        send(`PRIVMSG NickServ :REGISTER ${state.registering}`);
        state.password = state.registering;
        state.registering = "";
      }
      $("login").hidden = true; $("app").hidden = false;
      for (const room of state.wanted) send(`JOIN ${room}`);
      // Private conversations: what was missed of those open, and on a
      // new device, those of the last month (kept for an account).
      for (const t of state.targets.values()) if (!isRoom(t.name) && t.fetched) fetch(t);
      if (first) { state.listed.pages = 0; listConversations(new Date(Date.now() - 30 * 86400000).toISOString()); }
      show(state.current);
      break;
    }
    case "FAIL":
      // No page comes for this one (not in that room any more).
      if (a === "CHATHISTORY" && m.params.length > 4 && state.targets.has(m.params[3].toLowerCase())) {
        target(m.params[3]).asked.shift();
      }
      // falls through
    case "433": case "432": case "464": case "ERROR":
      if (!state.registered) {
        $("login-status").textContent = m.params.at(-1);
        state.me = ""; state.socket?.close();
        $("login").hidden = false; $("app").hidden = true;
      } else {
        note(state.current, m.params.at(-1));
      }
      break;
    case "JOIN":
      if (nickOf(m.source) === state.me) { state.wanted.add(a); fetch(target(a)); send(`MODE ${a}`); show(a); }
      target(a).people.add(nickOf(m.source));
      if (nickOf(m.source) !== state.me) note(a, `${nickOf(m.source)} joined`, m.tags.time);
      drawPeople();
      break;
    case "PART": case "KICK": {
      const who = m.verb === "KICK" ? b : nickOf(m.source);
      target(a).people.delete(who);
      target(a).ops.delete(who);
      note(a, m.verb === "KICK" ? `${who} was kicked by ${nickOf(m.source)}` : `${who} left`, m.tags.time);
      if (who === state.me) { state.wanted.delete(a); }
      drawPeople();
      break;
    }
    case "QUIT":
      for (const t of state.targets.values()) {
        t.ops.delete(nickOf(m.source));
        if (t.people.delete(nickOf(m.source))) note(t.name, `${nickOf(m.source)} quit`, m.tags.time);
      }
      drawPeople();
      break;
    case "NICK":
      if (nickOf(m.source) === state.me) state.me = a;
      for (const t of state.targets.values()) {
        if (t.ops.delete(nickOf(m.source))) t.ops.add(a);
        if (t.people.delete(nickOf(m.source))) { t.people.add(a); note(t.name, `${nickOf(m.source)} is now ${a}`); }
      }
      drawPeople();
      break;
    case "353":
      for (const n of m.params.at(-1).split(" ").filter(Boolean)) {
        const nick = n.replace(/^[~&@%+]+/, "");
        target(m.params.at(-2)).people.add(nick);
        if (/^[~&]*@/.test(n)) target(m.params.at(-2)).ops.add(nick);
      }
      drawPeople();
      break;
    case "MODE": case "324": {
      // Who is the room's operator (+o/-o), for the operators' buttons, and
      // the room's modes, for its settings (324: as they stand, asked on joining).
      const [room, changes, first] = m.verb === "324" ? [b, m.params[2], 3] : [a, b, 2];
      if (!isRoom(room ?? "")) break;
      const t = target(room);
      let on = true;
      let at = first;
      for (const c of changes ?? "") {
        if (c === "+" || c === "-") { on = c === "+"; continue; }
        if (c === "o") { const who = m.params[at]; if (who) { if (on) t.ops.add(who); else t.ops.delete(who); } }
        if (FLAGS.some(([f]) => f === c)) { if (on) t.modes.add(c); else t.modes.delete(c); }
        if (c === "k") t.key = on ? (m.params[at] ?? "") : "";
        if ("ovbeIk".includes(c) || (c === "l" && on)) at++;
      }
      drawPeople();
      if (current(t.name)) show(t.name);
      break;
    }
    case "332": target(b).topic = m.params.at(-1); drawTitle(); break;
    case "TOPIC": target(a).topic = b; note(a, `${nickOf(m.source)} set the topic: ${b}`); drawTitle(); break;
    case "MARKREAD": {
      // Sent as a room is entered (before its history), and whenever this
      // user, here or on another device, has read further.
      const t = target(a);
      t.known = true;
      const at = b?.startsWith("timestamp=") ? Date.parse(b.slice(10)) || 0 : 0;
      // Told before anything is shown of the room: the divider's place
      // (none in a room never read, where everything would be below it).
      if (t.before === null && !t.lines.some((l) => l.from)) t.before = at || Infinity;
      if (at > t.marker) {
        t.marker = at;
        const viewed = current(t.name) && !document.hidden;
        t.unread = viewed ? 0 : t.lines.filter((l) => unseen(t, l)).length;
        drawTargets();
      }
      break;
    }
    case "CHATHISTORY":
      // A private conversation with messages kept (TARGETS, on a new
      // device): listed; its messages are asked for when it is opened.
      if (a === "TARGETS" && b) {
        if (!isRoom(b)) target(b);
        state.listed.count++;
        state.listed.last = m.params[2];
      }
      break;
    case "BATCH": {
      const ref = a.slice(1);
      if (a.startsWith("+") && b === "draft/chathistory-targets") {
        Object.assign(state.listed, { ref, count: 0 });
      } else if (a.startsWith("-") && ref === state.listed.ref) {
        // The least recent come first: the next ones, up to 250 in all.
        state.listed.ref = "";
        if (state.listed.count >= PAGE && ++state.listed.pages < 5) listConversations(state.listed.last);
      } else if (a.startsWith("+") && b === "chathistory") {
        const t = target(m.params[2]);
        state.pages.set(ref, { t, kind: t.asked.shift() ?? "latest", lines: [] });
      } else if (a.startsWith("-") && state.pages.has(ref)) {
        const page = state.pages.get(ref);
        state.pages.delete(ref);
        received(page);
      } else if (a.startsWith("+") && b === "draft/multiline") {
        state.batches.set(ref, { target: m.params[2], source: m.source, tags: m.tags, text: "", verb: "" });
      } else if (a.startsWith("-") && state.batches.has(ref)) {
        // A message of several lines, whole: shown as one.
        const batch = state.batches.get(ref);
        state.batches.delete(ref);
        const from = nickOf(batch.source);
        const where = isRoom(batch.target) ? batch.target : (from === state.me ? batch.target : from);
        say(where, from, batch.text, batch.tags.time, batch.verb === "NOTICE", batch.tags.msgid);
      }
      break;
    }
    case "PRIVMSG": case "NOTICE": {
      const page = state.pages.get(m.tags.batch);
      if (page) {
        // A stored message of several lines comes as its lines, the first
        // with its id: shown as one again.
        const from = nickOf(m.source);
        const last = page.lines.at(-1);
        if (last && !m.tags.msgid && last.msgid && last.from === from && last.time === m.tags.time) {
          last.text += `\n${b ?? ""}`;
        } else {
          page.lines.push({ from, text: b ?? "", time: m.tags.time, notice: m.verb === "NOTICE", msgid: m.tags.msgid });
        }
        break;
      }
      const batch = state.batches.get(m.tags.batch);
      if (batch) {
        const more = "draft/multiline-concat" in m.tags;
        batch.text += (batch.verb && !more ? "\n" : "") + (b ?? "");
        batch.verb = m.verb;
        break;
      }
      if (!m.source.includes("!") || (m.verb === "NOTICE" && nickOf(m.source) === "NickServ")) {
        // The server's and its services' answers: shown where the user is.
        note(state.current, m.params.at(-1));
        break;
      }
      const from = nickOf(m.source);
      const where = isRoom(a) ? a : (from === state.me ? a : from);
      say(where, from, b ?? "", m.tags.time, m.verb === "NOTICE", m.tags.msgid);
      break;
    }
    case "REDACT": {
      // A message deleted, by its sender or an operator: its text goes.
      const t = target(a);
      const line = t.lines.find((l) => l.msgid === b);
      if (!line) break;
      Object.assign(line, { text: `(deleted by ${nickOf(m.source)})`, from: "", deleted: true, notice: true });
      if (current(t.name)) show(t.name);
      break;
    }
    default:
      // Numerics worth showing: errors and answers to what the user asked.
      if (/^[45]\d\d$/.test(m.verb)) note(state.current, m.params.slice(1).join(" "));
  }
}

// replayed: from a page of history, which notifies nobody, and counts as
// unread only what is newer than a read marker the server told.
function say(where, from, text, time, notice, msgid, replayed = false) {
  // A new private conversation: what is kept of it comes too (and is put
  // before this line).
  if (!isRoom(where) && !state.targets.has(where.toLowerCase())) fetch(target(where));
  const t = target(where);
  const line = { time, from, text, action: false, notice, msgid };
  unpack(line);
  const seen = key(line);
  if ((msgid || time) && t.seen.has(seen)) return;
  t.seen.add(seen);
  if (t.before !== null && !t.divided && unseen({ marker: t.before }, line)) {
    // The first line not read when the page came: a divider above it.
    t.divided = true;
    add(t, { divider: true, text: "New since you last read" });
  }
  add(t, line);
  if (current(where) && !document.hidden) {
    markRead(t);
  } else if (unseen(t, line) && (!replayed || t.known)) {
    t.unread++;
    drawTargets();
    if ((line.mention || !isRoom(where)) && document.hidden && !replayed) {
      document.title = `(${[...state.targets.values()].reduce((n, x) => n + x.unread, 0)}) chat`;
      if (window.Notification?.permission === "granted") new Notification(`${from} in ${where}`, { body: line.text });
    }
  }
}

// The private conversations (and rooms) with messages since C{since}.
function listConversations(since) {
  state.listed.count = 0;
  const later = new Date(Date.now() + 86400000).toISOString();
  send(`CHATHISTORY TARGETS timestamp=${since} timestamp=${later} ${PAGE}`);
}

// Ask for a conversation's past: the last page the first time; after a
// reconnection, what was missed since the newest line shown (from a
// millisecond before it: those of the same millisecond come again, and are
// not shown twice), then since the last line of each page received
// (C{from}); or the page before the oldest line shown.
function fetch(t, kind, from) {
  const said = t.lines.filter((l) => l.from && l.time);
  let line;
  if (kind === "before") {
    if (!said.length) return;
    const oldest = said[0];
    // One without an id (stored before ids were) by its time, a millisecond
    // on: those of its millisecond come again rather than not at all.
    line = oldest.msgid
      ? `BEFORE ${t.name} msgid=${oldest.msgid}`
      : `BEFORE ${t.name} timestamp=${new Date(Date.parse(oldest.time) + 1).toISOString()}`;
  } else if (from?.msgid) {
    kind = "after";
    line = `AFTER ${t.name} msgid=${from.msgid}`;
  } else if (from || said.length) {
    kind = "after";
    line = `AFTER ${t.name} timestamp=${new Date(Date.parse((from ?? said.at(-1)).time) - 1).toISOString()}`;
  } else {
    kind = "latest";
    line = `LATEST ${t.name} *`;
  }
  t.fetched = true;
  // A private conversation's read marker first (a room's comes on joining):
  // what is older than it is not counted as unread.
  if (!isRoom(t.name) && !t.known) send(`MARKREAD ${t.name}`);
  t.asked.push(kind);
  send(`CHATHISTORY ${line} ${kind === "after" ? CATCHING_UP : PAGE}`);
}

// A page of history, whole: shown in its place.
function received({ t, kind, lines }) {
  if (kind === "before") {
    for (const l of lines) unpack(l);
    const fresh = lines.filter((l) => !t.seen.has(key(l)));
    for (const l of fresh) t.seen.add(key(l));
    t.lines.unshift(...fresh);
    t.more = lines.length >= PAGE;
    if (current(t.name)) {
      // Only the older lines are added (a screen reader announces them,
      // not the whole conversation again), above where the reader was,
      // which stays where it was; the button stays while there are more,
      // and when it goes, the focus it had goes to the first line.
      const log = $("log");
      const from = log.scrollHeight - log.scrollTop;
      const rows = fresh.map(render);
      const top = log.querySelector(".earlier");
      if (top) top.after(...rows); else log.prepend(...rows);
      if (top && !t.more) {
        const focused = top.contains(document.activeElement);
        top.remove();
        if (focused && rows.length) { rows[0].tabIndex = -1; rows[0].focus(); }
      }
      log.scrollTop = log.scrollHeight - from;
    }
    return;
  }
  for (const l of lines) say(t.name, l.from, l.text, l.time, l.notice, l.msgid, true);
  // Said before lines that came live while it was asked for: in its place.
  t.lines = ordered(t.lines);
  if (kind === "latest") t.more = lines.length >= PAGE;
  if (kind === "after" && lines.length >= CATCHING_UP) {
    // A long absence: what was missed comes in pages, from the last line
    // of each (a line that came live since is newer than what is missed).
    t.catching = (t.catching ?? 0) + 1;
    if (t.catching < CATCH_UP_PAGES) fetch(t, "after", lines.at(-1));
    else note(t.name, "More was said while you were away than is shown here.");
  } else {
    t.catching = 0;
  }
  if (current(t.name)) {
    // A reader at the newest line stays there (the button above may push it down).
    const log = $("log");
    const newest = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    drawLog(t);
    if (newest) log.scrollTop = log.scrollHeight;
  }
}

// Lines in the order they were said (a stable sort: a line without a time,
// such as a notice, stays after the line before it).
function ordered(lines) {
  let last = 0;
  const keyed = lines.map((l, i) => {
    if (l.time) last = Date.parse(l.time) || last;
    return [last, i, l];
  });
  keyed.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return keyed.map((k) => k[2]);
}

// A line seen already (history replayed after a reconnection): by its id,
// the same live and replayed; by its time, sender and text when it has none
// (stored before ids were).
function key(line) {
  return line.msgid ? `id ${line.msgid}` : `${line.time ?? ""}\n${line.from}\n${line.text}`;
}

// A /me, as IRC carries it, and whether the line mentions this user.
function unpack(line) {
  if (line.text.startsWith("\x01ACTION ") && line.text.endsWith("\x01")) {
    line.text = line.text.slice(8, -1);
    line.action = true;
  }
  line.mention = line.from !== state.me && Boolean(state.me) && line.text.toLowerCase().includes(state.me.toLowerCase());
}

// Whether a line is one somebody else said after the marker.
function unseen(t, line) {
  return Boolean(line.from) && line.from !== state.me && (!line.time || Date.parse(line.time) > t.marker);
}

// Tell the server (soon: once for a burst) that what is shown is read.
function markRead(t) {
  if (t.marking) return;
  t.marking = setTimeout(() => {
    t.marking = null;
    let last = 0;
    for (const l of t.lines) if (l.time) last = Math.max(last, Date.parse(l.time) || 0);
    if (last > t.marker) {
      t.marker = last;
      send(`MARKREAD ${t.name} timestamp=${new Date(last).toISOString()}`);
    }
  }, 500);
}

function note(where, text, time) { add(target(where), { time, text, notice: true }); }

function add(t, line) {
  t.lines.push(line);
  if (current(t.name)) $("log").append(render(line));
  $("log").scrollTop = $("log").scrollHeight;
}

function render(line) {
  const li = document.createElement("li");
  if (line.divider) {
    li.className = "divider";
    li.setAttribute("role", "separator");
    li.textContent = line.text;
    return li;
  }
  const when = line.time ? new Date(line.time) : new Date();
  const time = document.createElement("time");
  time.dateTime = when.toISOString();
  time.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  // Spaces as text, not margins: a copied line reads as it is shown.
  li.append(time, " ");
  if (line.from) {
    const nick = document.createElement("span");
    nick.className = "nick";
    nick.textContent = line.action ? `* ${line.from}` : `<${line.from}>`;
    li.append(nick, " ");
  }
  li.append(document.createTextNode(line.text));
  const own = line.from === state.me;
  if (isRoom(state.current) && line.from && line.msgid && !line.deleted && (own || amOp(target(state.current)))) {
    // Your own message in a room, or anyone's for its operators: it may
    // be deleted (IRCv3 message-redaction).
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "delete";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", own ? `Delete your message: ${line.text}` : `Delete ${line.from}'s message: ${line.text}`);
    const room = state.current;
    remove.onclick = () => send(`REDACT ${room} ${line.msgid}`);
    li.append(" ", remove);
  }
  if (line.notice && !line.from) li.className = "notice";
  if (line.mention) li.classList.add("mention");
  return li;
}

// The conversation's lines, under a button for older ones while the
// server may keep some (scrolling to the top does the same).
function drawLog(t) {
  const rows = t.lines.map(render);
  if (t.more) {
    const li = document.createElement("li");
    li.className = "earlier";
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Show earlier messages";
    button.onclick = () => earlier(t);
    li.append(button);
    rows.unshift(li);
  }
  $("log").replaceChildren(...rows);
}

function earlier(t) {
  if (!t.more || t.asked.includes("before")) return;
  fetch(t, "before");
}

function show(name) {
  state.current = name;
  const t = target(name);
  if (!isRoom(t.name) && !t.fetched && state.registered) fetch(t);
  t.unread = 0;
  if (!document.hidden) markRead(t);
  drawLog(t);
  $("log").scrollTop = $("log").scrollHeight;
  drawTargets(); drawTitle(); drawPeople();
  if (!document.hidden) document.title = "chat";
}

function drawTitle() {
  const t = target(state.current);
  $("title").textContent = t.name;
  $("topic").textContent = t.topic;
  drawSettings();
}

// The room's modes its operators set from the page (IRC's channel modes).
const FLAGS = [
  ["t", "Only operators change the topic"],
  ["n", "No messages from outside the room"],
  ["m", "Moderated: only operators and voiced people speak"],
  ["i", "Invite only"],
  ["s", "Secret: not listed"],
];

// A room's settings, for its operators: the topic, the modes, a key.
function drawSettings() {
  const t = target(state.current);
  const settings = $("settings");
  settings.hidden = !amOp(t);
  if (settings.hidden) return;
  const room = t.name;
  const boxes = FLAGS.map(([letter, label]) => {
    const row = document.createElement("label");
    row.className = "check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = t.modes.has(letter);
    box.onchange = () => send(`MODE ${room} ${box.checked ? "+" : "-"}${letter}`);
    row.append(box, ` ${label}`);
    return row;
  });
  $("flags").replaceChildren(...boxes);
  // The fields keep what is being typed in them while the room changes.
  if (document.activeElement !== $("new-topic")) $("new-topic").value = t.topic;
  if (document.activeElement !== $("new-key")) $("new-key").value = t.key;
}

$("topic-form").onsubmit = (e) => {
  e.preventDefault();
  send(`TOPIC ${state.current} :${$("new-topic").value.replace(/[\r\n]+/g, " ")}`);
};

$("key-form").onsubmit = (e) => {
  e.preventDefault();
  const key = $("new-key").value.trim().split(/\s+/)[0] ?? "";
  const t = target(state.current);
  if (key) send(`MODE ${t.name} +k ${key}`);
  else if (t.key || t.modes.has("k")) send(`MODE ${t.name} -k *`);
};

function drawTargets() {
  $("targets").replaceChildren(...[...state.targets.values()].map((t) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = t.name;
    button.setAttribute("aria-current", String(current(t.name)));
    if (t.unread) {
      const count = document.createElement("span");
      count.className = "unread";
      count.textContent = String(t.unread);
      count.setAttribute("aria-label", `${t.unread} unread`);
      button.append(count);
    }
    button.onclick = () => { show(t.name); $("line").focus(); };
    li.append(button);
    return li;
  }));
}

function amOp(t) { return isRoom(t.name) && t.ops.has(state.me); }

function drawPeople() {
  const t = target(state.current);
  $("people").replaceChildren(...[...t.people].sort().map((n) => {
    const li = document.createElement("li");
    li.textContent = t.ops.has(n) ? `@${n}` : n;
    if (amOp(t) && n !== state.me) {
      // The room's operator may put others out, or ban them.
      const room = t.name;
      for (const [label, act] of [
        ["Kick", () => send(`KICK ${room} ${n} :kicked`)],
        ["Ban", () => { send(`MODE ${room} +b ${n}!*@*`); send(`KICK ${room} ${n} :banned`); }],
      ]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "op";
        button.textContent = label;
        button.setAttribute("aria-label", `${label} ${n}`);
        button.onclick = act;
        li.append(" ", button);
      }
    }
    return li;
  }));
}

function command(text) {
  const [verb, ...words] = text.slice(1).split(" ");
  const rest = words.join(" ");
  switch (verb.toLowerCase()) {
    case "join": send(`JOIN ${words[0]}`); break;
    case "part": send(`PART ${words[0] ?? state.current}`); break;
    case "me": send(`PRIVMSG ${state.current} :\x01ACTION ${rest}\x01`); break;
    case "msg": case "query": {
      const fresh = !state.targets.has(words[0].toLowerCase());
      if (fresh) fetch(target(words[0]));
      if (words.length > 1) send(`PRIVMSG ${words[0]} :${words.slice(1).join(" ")}`);
      show(words[0]);
      break;
    }
    case "nick": send(`NICK ${words[0]}`); break;
    case "topic": send(`TOPIC ${state.current} :${rest}`); break;
    case "kick": send(`KICK ${state.current} ${words[0]} :${words.slice(1).join(" ")}`); break;
    case "quote": send(rest); break;
    default: note(state.current, `Unknown command /${verb}: try /join, /part, /me, /msg, /nick, /topic, /kick`);
  }
}

$("login").onsubmit = (e) => {
  e.preventDefault();
  state.me = $("nick").value.trim();
  const register = $("register").checked;
  if (register && !$("password").value) {
    $("login-status").textContent = "Choose a password to register the nickname with.";
    return;
  }
  state.password = register ? "" : $("password").value;
  state.registering = register ? $("password").value : "";
  $("login-status").textContent = "Connecting…";
  if (window.Notification?.permission === "default") Notification.requestPermission();
  connect();
};

$("say").onsubmit = (e) => {
  e.preventDefault();
  const text = $("line").value.replace(/\r/g, "").replace(/\n+$/, "");
  if (!text.trim()) return;
  if (text.startsWith("/") && !text.startsWith("//") && !text.includes("\n")) {
    $("line").value = "";
    command(text);
    return;
  }
  const body = text.startsWith("//") ? text.slice(1) : text;
  if (!body.includes("\n")) {
    $("line").value = "";
    send(`PRIVMSG ${state.current} :${body}`);
    return;
  }
  // Several lines (a pasted block): one message (IRCv3 multiline), each
  // line cut to fit an IRC line, the pieces after the first continuing it.
  const encoder = new TextEncoder();
  const pieces = [];
  for (const line of body.split("\n")) {
    let rest = line;
    let more = false;
    do {
      let cut = rest.length;
      while (encoder.encode(rest.slice(0, cut)).length > 400) cut = Math.floor(cut * 0.9);
      pieces.push([rest.slice(0, cut), more]);
      rest = rest.slice(cut);
      more = true;
    } while (rest.length);
  }
  const size = pieces.reduce((n, [piece]) => n + encoder.encode(piece).length, 0);
  if (pieces.length > MULTILINE.lines || size > MULTILINE.bytes) {
    note(state.current, `Too long to send as one message: at most ${MULTILINE.lines} lines and ${MULTILINE.bytes} bytes.`);
    return;
  }
  $("line").value = "";
  const ref = `p${++state.sent}`;
  send(`BATCH +${ref} draft/multiline ${state.current}`);
  for (const [piece, more] of pieces) {
    send(`@batch=${ref}${more ? ";draft/multiline-concat" : ""} PRIVMSG ${state.current} :${piece}`);
  }
  send(`BATCH -${ref}`);
};

// Enter sends; Shift+Enter starts a new line (a pasted block keeps its own).
$("line").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("say").requestSubmit();
  }
});

// Scrolled to the top: the page before.
$("log").addEventListener("scroll", () => {
  if ($("log").scrollTop < 40) earlier(target(state.current));
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    const t = target(state.current);
    t.unread = 0; markRead(t); drawTargets(); document.title = "chat";
  }
});
