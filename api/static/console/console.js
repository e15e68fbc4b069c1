/* Relais console behaviour: log-in/2FA, the live event stream, keyboard shortcuts, PWA and push.
   Plain JS, no build step. Server-rendered HTML + HTMX does the rest. */
(function () {
  "use strict";
  var body = document.body;
  var csrf = body.getAttribute("data-csrf") || "";

  function api(method, url, data) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (csrf) headers["X-CSRF-Token"] = csrf;
    return fetch(url, { method: method, headers: headers, credentials: "same-origin",
      body: data === undefined ? undefined : JSON.stringify(data) }).then(function (r) {
      return r.text().then(function (text) {
        var json = text ? JSON.parse(text) : {};
        if (!r.ok) throw new Error(json.detail || ("request failed (" + r.status + ")"));
        return json;
      });
    });
  }

  function say(id, text) { var el = document.getElementById(id); if (el) el.textContent = text; }

  /* ---- log-in, second factor, enrolment ---- */
  var loginForm = document.getElementById("login-form");
  var codeForm = document.getElementById("code-form");
  // said before asking: the API's own refusal of a short code reads "code: String should have at least 6 characters"
  var CODE_HINT = "Type the 6-digit code your authenticator app shows";
  function shortCode(input, errorId, hint) {
    if (input.value.trim().length >= 6) return false;
    say(errorId, hint); input.focus();
    return true;
  }
  if (loginForm) {
    loginForm.addEventListener("submit", function (e) {
      e.preventDefault();
      say("login-error", "");
      api("POST", "/api/v1/auth/login", { email: loginForm.email.value, password: loginForm.password.value })
        .then(function (out) {
          var next = loginForm.getAttribute("data-next") || "/console";
          if (out.must_enrol) { location.assign("/console/enrol?next=" + encodeURIComponent(next)); return; }
          if (!out.needs_second_factor) { location.assign(next); return; }
          loginForm.hidden = true; codeForm.hidden = false; codeForm.code.focus();
        })
        .catch(function (err) { say("login-error", err.message); loginForm.password.focus(); });
    });
    codeForm.addEventListener("submit", function (e) {
      e.preventDefault();
      say("login-error", "");
      if (shortCode(codeForm.code, "login-error", CODE_HINT + " (or one of your recovery codes).")) return;
      api("POST", "/api/v1/auth/2fa/verify", { code: codeForm.code.value.trim() })
        .then(function () { location.assign(codeForm.getAttribute("data-next") || "/console"); })
        .catch(function (err) { say("login-error", err.message); codeForm.code.select(); });
    });
    loginForm.email.focus();
  }

  var enrol = document.getElementById("enrol");
  if (enrol) {
    api("POST", "/api/v1/auth/2fa/enrol").then(function (out) {
      document.getElementById("enrol-qr").innerHTML = out.qr_svg;  // SVG made by our own server
      say("enrol-uri", out.provisioning_uri);
      // a phone cannot scan its own screen: the key to type, in groups of four, and the link its app opens
      say("enrol-key", (new URL(out.provisioning_uri).searchParams.get("secret") || "").replace(/(.{4})(?=.)/g, "$1 "));
      document.getElementById("enrol-link").href = out.provisioning_uri;
      var list = document.getElementById("enrol-codes");
      out.recovery_codes.forEach(function (code) {
        var li = document.createElement("li"); li.textContent = code; list.appendChild(li);
      });
      document.getElementById("enrol-code").focus();
    }).catch(function (err) {
      say("enrol-error", err.message + " — log in again.");
    });
    document.getElementById("enrol-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (shortCode(document.getElementById("enrol-code"), "enrol-error", CODE_HINT + ".")) return;
      api("POST", "/api/v1/auth/2fa/verify", { code: document.getElementById("enrol-code").value.trim() })
        .then(function () { location.assign(enrol.getAttribute("data-next") || "/console"); })
        .catch(function (err) { say("enrol-error", err.message); });
    });
  }

  var passwordForm = document.getElementById("password-form");
  if (passwordForm) {
    passwordForm.addEventListener("submit", function (e) {
      e.preventDefault();
      say("password-error", "");
      if (passwordForm["new"].value !== passwordForm.repeat.value) {
        say("password-error", "The two new passwords differ."); passwordForm.repeat.focus(); return;
      }
      api("POST", "/api/v1/auth/password", { current_password: passwordForm.current.value,
                                             new_password: passwordForm["new"].value })
        .then(function () { location.assign(passwordForm.getAttribute("data-next") || "/console"); })
        .catch(function (err) { say("password-error", err.message); });
    });
    passwordForm.current.focus();
  }

  document.querySelectorAll("[data-logout]").forEach(function (b) {
    b.addEventListener("click", function () {
      api("POST", "/api/v1/auth/logout").finally(function () { location.assign("/console/login"); });
    });
  });

  /* ---- live events ---- */
  function openConversationId() {
    var el = document.getElementById("conversation");
    return el ? Number(el.getAttribute("data-conversation-id")) : null;
  }
  // An event for the open thread re-draws it. An event that arrives while a request of the thread is under way (its
  // own refresh, a reply being sent) waits for that request to settle: htmx drops a refresh queued on a part the
  // answer replaces, and an answer drawn before the event would show the thread as it was (a reply "queued" though
  // the next event said "delivered").
  var threadStale = false;
  function threadBusy() { return !!document.querySelector("#conversation.htmx-request, #conversation .htmx-request"); }
  function refreshThread(data) {
    if (threadBusy()) { threadStale = true; return; }
    htmx.trigger(body, "conversation-event", data);
  }
  body.addEventListener("htmx:afterSettle", function () {
    if (threadStale && !threadBusy()) { threadStale = false; htmx.trigger(body, "conversation-event", {}); }
  });
  // The person's own status set in another tab (or by an admin): this tab's Status list follows. It kept the old one,
  // "Offline" beside an inbox routed to them, and choosing "Online" there read as a change.
  function followStatus(data) {
    var form = document.getElementById("agent-status");
    var select = document.getElementById("status-select");
    if (!form || !select || !data.status || String(data.user_id) !== form.getAttribute("data-user-id")) return;
    select.value = data.status;
    select.setAttribute("data-status", data.status);
  }
  var streamUrl = body.getAttribute("data-stream");
  if (streamUrl && window.EventSource) {
    var source = new EventSource(streamUrl);
    var onEvent = function (e) {
      var data = {};
      try { data = JSON.parse(e.data); } catch (err) { return; }
      if (window.htmx) {
        htmx.trigger(body, "console-event", data);
        if (data.conversation_id && data.conversation_id === openConversationId()) refreshThread(data);
      }
      if (e.type === "agent.status") followStatus(data);
      if (e.type === "conversation.escalated") say("live-status", "New conversation waiting, priority " + data.priority + ".");
      if (e.type === "message.received" && data.conversation_id === openConversationId()) say("live-status", "New message from the customer.");
    };
    ["conversation.escalated", "conversation.assigned", "conversation.handed_back", "conversation.closed",
     "conversation.transferred", "message.received", "message.sent", "note.added", "agent.status", "sla.breached"]
      .forEach(function (kind) { source.addEventListener(kind, onEvent); });
    // a message's delivery status (queued -> sent -> delivered / failed): only an open thread shows it, so only
    // a thread named in the event re-fetches (not every inbox and supervisor view, at every send of every reply)
    source.addEventListener("message.status", function (e) {
      var data = {};
      try { data = JSON.parse(e.data); } catch (err) { return; }
      var open = openConversationId();
      if (window.htmx && open && (data.conversation_ids || []).indexOf(open) !== -1) refreshThread(data);
    });
    body.setAttribute("data-stream-ready", "1");
    source.addEventListener("open", function () { body.setAttribute("data-stream-open", "1"); });
  }

  /* ---- times in the user's own zone, the zone named (the server writes UTC) ---- */
  var zone = "UTC";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (err) { /* old browser: UTC */ }
  var localFormat = new Intl.DateTimeFormat(undefined,
    { day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", timeZone: zone });
  // data-local-time="year": a date that may be years old (an order, a consent) keeps its year
  var yearFormat = new Intl.DateTimeFormat(undefined,
    { year: "numeric", day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", timeZone: zone });
  function localTimes(root) {
    root.querySelectorAll("time[data-local-time]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      var format = el.getAttribute("data-local-time") === "year" ? yearFormat : localFormat;
      if (!isNaN(when)) { el.textContent = format.format(when); el.title = zone; }
    });
    root.querySelectorAll("[data-local-zone]").forEach(function (el) { el.textContent = zone.replace(/_/g, " "); });
  }
  localTimes(document);
  body.addEventListener("htmx:afterSettle", function () { localTimes(document); });

  /* ---- HTMX glue: errors, focus after a swap ---- */
  var REQUIRED = /^(Field required|String should have at least 1 character)$/;
  // A refusal names fields as the API does ("name: Field required"); on a page with that field it
  // is said with the field's label and the person is taken to it. Else the problem's own detail.
  function refusal(problem) {
    var errors = problem.errors || [];
    var first = null;
    var lines = errors.map(function (err) {
      var control = err.field && document.querySelector('[name="' + CSS.escape(String(err.field)) + '"]');
      if (!control) return null;
      first = first || control;
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("data-refused", "");
      // a group of checkboxes or radios is named by its legend, not by its first option's label
      var legend = /^(checkbox|radio)$/.test(control.type) && control.closest("fieldset") ?
        control.closest("fieldset").querySelector("legend") : null;
      var label = legend ? legend.textContent.trim() :
        control.labels && control.labels.length ? control.labels[0].textContent.trim() : err.field;
      // a detail that opens with the field's own name ("url must point to ...") says it once, by its label
      var said = err.message || problem.detail || "";
      if (said.indexOf(err.field + " ") === 0) said = said.slice(String(err.field).length + 1);
      return label + ": " + (REQUIRED.test(err.message) ? "this is required" : said);
    });
    if (!errors.length || lines.indexOf(null) >= 0) return problem.detail;
    first.focus();
    return lines.join("; ");
  }
  body.addEventListener("htmx:responseError", function (e) {
    var detail = "The action failed.";
    try { detail = refusal(JSON.parse(e.detail.xhr.responseText)) || detail; } catch (err) { /* not JSON */ }
    say("action-error", detail);
    // a refused action on the thread (a colleague took it, it was closed meanwhile): the thread is re-drawn as it
    // stands now, so what the person presses next acts on what they see, even when a live event went missing
    var target = e.detail.target;
    if (target && target.id === "conversation") setTimeout(function () { refreshThread({}); }, 0);
  });
  body.addEventListener("htmx:beforeRequest", function (e) {
    // Only what the person pressed clears the last refusal: a live re-check (input, change) or a
    // refresh must not wipe the message before it is read.
    var cause = e.detail.requestConfig && e.detail.requestConfig.triggeringEvent;
    if (!cause || (cause.type !== "click" && cause.type !== "submit")) return;
    say("action-error", "");
    document.querySelectorAll("[data-refused]").forEach(function (el) {
      el.removeAttribute("data-refused"); el.removeAttribute("aria-invalid");
    });
  });

  /* ---- the thread: its newest message in view ---- */
  // On a wide screen the thread scrolls inside its box: it opens on the newest message, a live
  // refresh leaves the agent where they had scrolled, and their own reply is shown on every screen.
  var fromBottom = 0;
  function showNewest(reply) {
    var list = document.getElementById("messages");
    if (!list) return;
    list.scrollTop = list.scrollHeight - list.clientHeight - fromBottom;
    fromBottom = 0;
    if (reply && list.lastElementChild) list.lastElementChild.scrollIntoView({ block: "center" });
  }
  showNewest(false);
  body.addEventListener("htmx:beforeSwap", function (e) {
    var list = document.getElementById("messages");
    var live = e.detail.target && e.detail.target.id === "conversation-live";
    fromBottom = list && live ? list.scrollHeight - list.clientHeight - list.scrollTop : 0;
  });
  body.addEventListener("htmx:afterSwap", function (e) {
    var target = e.detail.target;
    if (target === body) {
      // a whole page answered with HX-Location (a saved segment, a scheduled campaign): start at its top
      window.scrollTo(0, 0);
      return;
    }
    if (!target || (target.id !== "conversation" && target.id !== "conversation-live")) return;
    var live = document.getElementById("conversation-live");
    if (live && live.hasAttribute("data-unreachable") && document.getElementById("reply-form")) {
      // the customer texted STOP (or was suppressed) while the thread was open: the reply box, outside the live part,
      // gives way to the notice saying why no reply can go (it stayed, and a typed reply was refused on Send)
      htmx.ajax("GET", "/console/fragments/conversations/" + openConversationId() + "?part=panel",
                { target: "#conversation", swap: "outerHTML" });
      return;
    }
    var reply = /\/reply$/.test(e.detail.requestConfig ? e.detail.requestConfig.path : "");
    var title = document.getElementById("conversation-title");
    if (target.id === "conversation" && title && !document.activeElement.closest("#conversation")) {
      title.tabIndex = -1; title.focus({ preventScroll: reply });
    }
    showNewest(reply);
  });
  // Drafts survive the thread's re-draw: an action answers with the whole conversation (a note added, Assign to me,
  // Hand back), and a half-typed reply or note was wiped. Only the box whose form was just sent starts empty, and only
  // on the same conversation.
  var DRAFT_SENT_BY = { reply: /\/reply$/, note: /\/notes$/ };
  var drafts = null;
  body.addEventListener("htmx:beforeSwap", function (e) {
    if (!e.detail.shouldSwap || !e.detail.target || e.detail.target.id !== "conversation") return;
    var path = e.detail.requestConfig ? e.detail.requestConfig.path : "";
    drafts = { id: openConversationId(), values: {} };
    Object.keys(DRAFT_SENT_BY).forEach(function (id) {
      var box = document.getElementById(id);
      if (box && box.value && !DRAFT_SENT_BY[id].test(path)) drafts.values[id] = box.value;
    });
  });
  // put back once htmx has wired the new boxes: the reply's counter then follows the restored text
  body.addEventListener("htmx:afterSettle", function (e) {
    if (!e.target || e.target.id !== "conversation") return;  // not the live part's refresh settling meanwhile
    var kept = drafts;
    drafts = null;
    if (!kept || kept.id !== openConversationId()) return;
    Object.keys(kept.values).forEach(function (id) {
      var box = document.getElementById(id);
      if (!box || box.value) return;
      box.value = kept.values[id];
      box.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });
  function insertCanned(select) {
    if (!select.value) return;
    var reply = document.getElementById("reply");
    // after words typed and a space ("Bonjour, je suis Jonas. "), no second space: it was sent, and counted
    var gap = reply.value && !/\s$/.test(reply.value) ? " " : "";
    reply.value = reply.value + gap + select.value;
    select.value = "";
    reply.dispatchEvent(new Event("input", { bubbles: true }));
    reply.focus();
  }
  // On a closed list the arrow keys (and typed letters) change the choice one step at a time: the first step inserted
  // the first response and left for the reply box, so the keyboard never reached the others. Those keys browse; Enter,
  // or a choice made in the opened list or with the mouse, inserts.
  var cannedBrowsing = false;
  body.addEventListener("keydown", function (e) {
    var select = e.target.closest && e.target.closest("[data-canned]");
    if (!select) return;
    if (e.key === "Enter") { e.preventDefault(); insertCanned(select); return; }
    cannedBrowsing = !e.altKey && (/^(Arrow|Page|Home$|End$)/.test(e.key) || e.key.length === 1) && e.key !== " ";
  });
  body.addEventListener("change", function (e) {
    var select = e.target.closest("[data-canned]");
    if (!select) return;
    if (cannedBrowsing) { cannedBrowsing = false; return; }
    insertCanned(select);
  });
  body.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.id === "reply") {
      e.preventDefault();
      htmx.trigger(document.getElementById("reply-form"), "submit");
    }
  });

  /* ---- keyboard shortcuts ---- */
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function move(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("[data-conversation-link]"));
    if (!links.length) return;
    var current = links.findIndex(function (a) { return a.getAttribute("aria-current") === "true"; });
    var next = current < 0 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, current + step));
    if (next !== current) location.assign(links[next].getAttribute("href"));
  }
  function act(key) {
    var el = document.querySelector('#conversation [data-key="' + key + '"]');
    if (!el) return false;
    if (el.tagName === "BUTTON") el.click(); else el.focus();
    return true;
  }
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && typing(e.target)) {
      // Leave a text box so the single-key shortcuts work again.
      var title = document.getElementById("conversation-title");
      e.target.blur();
      if (title) { title.tabIndex = -1; title.focus(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var dialog = document.getElementById("shortcuts");
    var handled = true;
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "r": case "a": case "t": case "b": case "c": handled = act(e.key); break;
      case "?": if (dialog && !dialog.open) dialog.showModal(); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });
  document.querySelectorAll("[data-shortcuts-open]").forEach(function (b) {
    b.addEventListener("click", function () { document.getElementById("shortcuts").showModal(); });
  });
  var selected = document.querySelector('[data-conversation-link][aria-current="true"]');
  if (selected && !loginForm) selected.scrollIntoView({ block: "nearest" });

  /* ---- PWA: offline shell and web push ---- */
  if ("serviceWorker" in navigator && csrf) {
    navigator.serviceWorker.register("/console/sw.js", { scope: "/console" }).then(function (reg) {
      if (!("PushManager" in window) || !window.Notification) return;
      var me = document.querySelector(".me[data-inbox]");  // notifications are of new conversations
      if (!me || Notification.permission === "denied") return;
      var button = document.createElement("button");
      button.type = "button"; button.className = "link"; button.textContent = "Notify me of new conversations";
      me.insertBefore(button, me.firstChild);
      button.addEventListener("click", function () {
        Notification.requestPermission().then(function (permission) {
          if (permission !== "granted") return;
          return api("GET", "/console/push/key").then(function (out) {
            var raw = atob(out.public_key.replace(/-/g, "+").replace(/_/g, "/"));
            var key = new Uint8Array(raw.length);
            for (var i = 0; i < raw.length; i++) key[i] = raw.charCodeAt(i);
            // a subscription made with another key (the deployment's key changed) can never be pushed to, and
            // subscribe() refuses a new key while it exists: drop it first
            return reg.pushManager.getSubscription().then(function (old) {
              var had = old && old.options.applicationServerKey && new Uint8Array(old.options.applicationServerKey);
              var same = had && had.length === key.length && had.every(function (b, i) { return b === key[i]; });
              return old && !same ? old.unsubscribe() : null;
            }).then(function () {
              return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
            });
          }).then(function (sub) {
            return api("POST", "/console/push/subscriptions", sub.toJSON());
          }).then(function () { button.textContent = "Notifications on"; button.disabled = true; });
        }).catch(function (err) { say("live-status", "Notifications could not be turned on: " + err.message); });
      });
    }).catch(function () { /* no service worker (e.g. plain http on a LAN address): the console still works */ });
  }
})();
