// The organizer's phone: a turf's doors kept on the phone, results queued on it and sent when
// there is a connection, each with its own idempotency key so a retry is recorded once.
// Plain JavaScript, no libraries. Names stay on the phone; what is sent is ids and codes.
(function () {
  "use strict";

  const QUEUE = "seg1-field-queue";        // results not yet accepted by the server
  const REJECTED = "seg1-field-rejected";  // results the server refused: kept, shown, never dropped
  const app = document.getElementById("app");
  const badge = document.getElementById("queue-badge");
  let flushing = false;
  let signInNeeded = false;

  // ---------------------------------------------------------------- storage
  function read(key, fallback) {
    try {
      const raw = localStorage.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) {
      return fallback;
    }
  }
  function write(key, value) { localStorage.setItem(key, JSON.stringify(value)); }
  function queue() { return read(QUEUE, []); }
  function doneKey(turf) { return "seg1-field-done-" + turf; }
  function turfKey(turf) { return "seg1-field-turf-" + turf; }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; plain-HTTP demos get the same from getRandomValues.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // ---------------------------------------------------------------- sending
  function enqueue(result) {
    const items = queue();
    items.push(result);
    write(QUEUE, items);
    showBadge();
    flush();
  }

  function removeFromQueue(key) {
    write(QUEUE, queue().filter((item) => item.key !== key));
  }

  async function flush() {
    if (flushing || !navigator.onLine) { showBadge(); return; }
    flushing = true;
    let sent = 0;
    try {
      for (const item of queue()) {
        let response;
        try {
          response = await fetch(resultsUrl(), {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
            body: JSON.stringify(item.payload),
          });
        } catch (e) {
          break; // no connection: the rest wait for the next `online`
        }
        if (response.status === 200 || response.status === 201) {
          removeFromQueue(item.key);
          signInNeeded = false;
          sent += 1;
        } else if (response.status === 401 || response.status === 403) {
          signInNeeded = true;
          break; // kept: sent after signing in again
        } else if (response.status >= 400 && response.status < 500) {
          const body = await response.json().catch(() => ({ error: "refused" }));
          const rejected = read(REJECTED, []);
          rejected.push(Object.assign({}, item, { error: body.error || "refused" }));
          write(REJECTED, rejected);
          removeFromQueue(item.key);
        } else {
          break; // the server is unwell: try again later
        }
      }
    } finally {
      flushing = false;
      showBadge();
    }
    // "waiting to send" beside each result becomes "sent"; not while the organizer is typing.
    const typing = document.activeElement && document.activeElement.tagName === "TEXTAREA";
    if (sent && turf && !typing) render(false);
  }

  function resultsUrl() { return app ? app.dataset.resultsUrl : "/field/results/"; }

  function showBadge() {
    if (!badge) return;
    const waiting = queue().length;
    const rejected = read(REJECTED, []).length;
    const parts = [];
    if (waiting) parts.push(waiting + (waiting === 1 ? " result" : " results") + " waiting to send");
    if (signInNeeded) parts.push("sign in again to send them");
    if (rejected) parts.push(rejected + " refused by the server (kept on this phone)");
    badge.hidden = false;
    badge.textContent = parts.length ? parts.join(" · ") : "All results sent";
    badge.classList.toggle("sent", !parts.length);
    const net = document.getElementById("net");
    if (net) {
      net.hidden = navigator.onLine;
      net.textContent = "Offline: results are kept on this phone and sent when the signal returns.";
    }
  }

  window.addEventListener("online", flush);
  window.addEventListener("offline", showBadge);
  setInterval(flush, 30000);

  // ---------------------------------------------------------------- the turf
  let turf = null;   // the turf's data as the server gave it
  let done = {};     // voter id -> {outcome, support, at}: what this phone recorded
  let pick = {};     // voter id -> {outcome, support, answers, note}: chosen, not saved yet

  async function loadTurf() {
    const id = app.dataset.turf;
    try {
      const response = await fetch(app.dataset.dataUrl, { credentials: "same-origin" });
      if (!response.ok) throw new Error("status " + response.status);
      turf = await response.json();
      write(turfKey(id), turf);
    } catch (e) {
      turf = read(turfKey(id), null);
    }
    done = read(doneKey(id), {});
    if (!turf) {
      view().innerHTML = "<p class='error'>This turf is not on this phone yet: open it once with a signal.</p>";
      return;
    }
    render();
  }

  function view() { return document.getElementById("view"); }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([name, value]) => {
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value);
    });
    (children || []).forEach((child) => child && node.appendChild(child));
    return node;
  }

  function timeLabel(iso) {
    // The campaign's time zone, named, whatever zone the phone is set to.
    const zone = app.dataset.timeZone;
    const text = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hour: "numeric", minute: "2-digit", timeZoneName: "short",
    }).format(new Date(iso));
    return text + " (" + zone + ")";
  }

  function render(scroll) {
    const stop = parseInt((location.hash.match(/^#door-(\d+)$/) || [])[1] || "0", 10);
    const door = turf.doors.find((d) => d.stop === stop);
    view().replaceChildren(door ? doorView(door) : listView());
    if (scroll !== false) window.scrollTo(0, 0);
    showBadge();
  }
  window.addEventListener("hashchange", () => turf && render(true));

  function doorDone(door) {
    return door.voters.length > 0 && door.voters.every((v) => done[v.voter_id]);
  }

  function listView() {
    const finished = turf.doors.filter(doorDone).length;
    return el("section", {}, [
      el("h1", { text: "Turf " + turf.turf.name }),
      el("p", { class: "muted", text: turf.program + " · " + finished + " of " + turf.doors.length + " doors done" }),
      el("ul", { class: "doors" }, turf.doors.map((door) =>
        el("li", { class: doorDone(door) ? "done" : "" }, [
          el("a", { href: "#door-" + door.stop, "data-stop": String(door.stop) }, [
            el("span", { class: "stop", text: String(door.stop) }),
            el("span", {}, [
              el("strong", { text: door.address + (door.unit ? " " + door.unit : "") }),
              el("br"),
              el("span", { class: "muted", text: door.voters.length + (door.voters.length === 1 ? " voter" : " voters") + (doorDone(door) ? " · done" : "") }),
            ]),
          ]),
        ])
      )),
    ]);
  }

  function doorView(door) {
    const index = turf.doors.indexOf(door);
    const next = turf.doors[index + 1];
    const prev = turf.doors[index - 1];
    const open = door.voters.filter((v) => !done[v.voter_id]);
    return el("section", { class: "door", "data-stop": String(door.stop) }, [
      el("div", { class: "door-head" }, [
        el("a", { href: "#", text: "‹ All doors" }),
        el("span", { class: "muted", text: "Stop " + door.stop + " of " + turf.doors.length }),
      ]),
      el("h1", { text: door.address + (door.unit ? " " + door.unit : "") }),
      open.length ? el("button", {
        class: "primary big whole-door",
        text: open.length === 1 ? "Nobody home · save" : "Nobody home · save for all " + open.length,
        onclick: () => { open.forEach((v) => save(door, v, { outcome: "not_home" })); go(next); },
      }) : null,
      door.script ? el("details", { class: "script" }, [
        el("summary", { text: "Script: " + door.script_name }),
        el("p", { text: door.script }),
      ]) : null,
      ...door.voters.map((voter) => voterCard(door, voter)),
      el("div", { class: "nav" }, [
        prev ? el("a", { href: "#door-" + prev.stop, text: "‹ Stop " + prev.stop }) : null,
        next ? el("a", { href: "#door-" + next.stop, text: "Stop " + next.stop + " ›" }) : el("a", { href: "#", text: "All doors" }),
      ]),
    ]);
  }

  function go(door) { location.hash = door ? "#door-" + door.stop : "#"; }

  function voterCard(door, voter) {
    const card = el("article", { class: "card voter", "data-voter": voter.voter_id });
    const fill = () => card.replaceChildren(...voterContent(door, voter, fill).filter(Boolean));
    fill();
    return card;
  }

  function voterContent(door, voter, refresh) {
    const head = [
      el("h3", { text: voter.name || "(no name)" }),
      el("span", { class: "muted", text: "Age " + (voter.age === null ? "?" : voter.age) + " · " + (voter.party || "no party") }),
      voter.talking_points.length ? el("ul", { class: "points" }, voter.talking_points.map((p) => el("li", { text: p }))) : null,
    ];
    const recorded = done[voter.voter_id];
    if (recorded) {
      const waiting = queue().some((item) => item.payload.voter === voter.voter_id && item.payload.turf === turf.turf.id);
      return head.concat([el("p", { class: "recorded", text:
        "✓ " + outcomeLabel(recorded.outcome) + (recorded.support ? " · support " + recorded.support : "") +
        " at " + timeLabel(recorded.at) + (waiting ? " · waiting to send" : " · sent") })]);
    }
    const chosen = pick[voter.voter_id] || (pick[voter.voter_id] = { outcome: "", support: "", answers: {}, note: "" });
    const parts = head.concat([el("div", { class: "grid" }, turf.outcomes.map((o) =>
      el("button", {
        class: "choice" + (o.code === "do_not_contact" ? " dnc" : ""), "data-outcome": o.code,
        "aria-pressed": String(chosen.outcome === o.code), text: o.label,
        onclick: () => { chosen.outcome = o.code; refresh(); },
      })
    ))]);
    if (chosen.outcome === "contacted") {
      parts.push(el("p", { class: "question", text: turf.support.question }));
      parts.push(choices(turf.support.options, chosen.support, "support", (code) => { chosen.support = code; refresh(); }, true));
      turf.questions.forEach((q) => {
        parts.push(el("p", { class: "question", text: q.text }));
        parts.push(choices(q.options, chosen.answers[q.slug] || "", q.slug, (code) => { chosen.answers[q.slug] = code; refresh(); }, false));
      });
    }
    if (chosen.outcome) {
      const note = el("textarea", { rows: "2", placeholder: "Note (optional)", maxlength: "2000" });
      note.value = chosen.note;
      note.addEventListener("input", () => { chosen.note = note.value; });
      parts.push(el("label", { class: "question" }, [document.createTextNode("Note"), note]));
      parts.push(el("button", { class: "primary big", "data-save": voter.voter_id, text: "Save " + outcomeLabel(chosen.outcome).toLowerCase(),
        onclick: () => { save(door, voter, chosen); delete pick[voter.voter_id]; refresh(); afterSave(door); } }));
    }
    return parts;
  }

  function choices(options, current, name, onpick, five) {
    return el("div", { class: five ? "grid five" : "grid", "data-question": name }, options.map((o) =>
      el("button", { class: "choice", "data-code": o.code, "aria-pressed": String(current === o.code),
        title: o.label, text: five ? o.code : o.label, onclick: () => onpick(o.code) })
    ));
  }

  function outcomeLabel(code) {
    const found = turf.outcomes.find((o) => o.code === code);
    return found ? found.label : code;
  }

  function save(door, voter, chosen) {
    const at = new Date().toISOString();
    const key = newKey();
    const payload = {
      key: key, turf: turf.turf.id, program: turf.turf.program, voter: voter.voter_id,
      outcome: chosen.outcome, recorded_at: at,
    };
    if (chosen.outcome === "contacted") {
      if (chosen.support) payload.support = chosen.support;
      if (Object.keys(chosen.answers || {}).length) payload.answers = chosen.answers;
    }
    if (chosen.note) payload.note = chosen.note;
    done[voter.voter_id] = { outcome: chosen.outcome, support: payload.support || "", at: at };
    write(doneKey(turf.turf.id), done);
    enqueue({ key: key, stop: door.stop, payload: payload });
  }

  function afterSave(door) {
    if (doorDone(door)) {
      const next = turf.doors[turf.doors.indexOf(door) + 1];
      // A moment to see the tick; not if the organizer has gone elsewhere meanwhile.
      setTimeout(() => { if (location.hash === "#door-" + door.stop) go(next); }, 400);
    }
  }

  // ---------------------------------------------------------------- start
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" }).catch(() => {});
  }
  if (app) {
    // Keep this page itself for opening offline (the worker also keeps what it sees).
    if (window.caches) {
      caches.open("seg1-field-v1").then((cache) => cache.addAll([location.pathname, "/field/app.js", "/field/app.css"])).catch(() => {});
    }
    loadTurf();
  }
  showBadge();
  flush();
})();
