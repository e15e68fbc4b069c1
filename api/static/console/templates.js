/* The template editor and the brand profile: insert a variable at the cursor, keep the message
   box's invalid state and the focus right around HTMX swaps. Plain JS, no build step; HTMX does
   the requests. */
(function () {
  "use strict";
  var body = document.body;

  function messageBox() { return document.getElementById("template-body"); }

  /* A variable button inserts its snippet where the cursor is (or replaces the selection), then
     hands the focus back to the message with the cursor after the snippet; the input event makes
     HTMX re-check the draft as if it had been typed. */
  body.addEventListener("click", function (e) {
    var button = e.target.closest("[data-insert]");
    var box = messageBox();
    if (!button || !box) return;
    var snippet = button.getAttribute("data-insert");
    var start = box.selectionStart, end = box.selectionEnd;
    box.value = box.value.slice(0, start) + snippet + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = start + snippet.length;
    box.dispatchEvent(new Event("input", { bubbles: true }));
  });

  /* The message box is outside the swapped panel: mark it invalid while problems are listed. */
  body.addEventListener("htmx:afterSettle", function () {
    var box = messageBox();
    var problems = document.getElementById("body-problem-list");
    if (!box) return;
    if (problems) box.setAttribute("aria-invalid", "true"); else box.removeAttribute("aria-invalid");
  });

  /* Re-drawing the attachment rows replaces the control that had focus: give it back (the same
     id, else the "Add an attachment" button). */
  var focused = null;
  body.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "media-rows") focused = document.activeElement && document.activeElement.id;
  });
  body.addEventListener("htmx:afterSettle", function (e) {
    if (!e.detail.target || e.detail.target.id !== "media-rows") return;
    var again = (focused && document.getElementById(focused)) || document.getElementById("add-media");
    if (focused === "add-media") {
      var urls = document.querySelectorAll("#media-rows input[name='media_url']");
      if (urls.length) again = urls[urls.length - 1];  // a new row: type its address next
    }
    if (again) again.focus();
    focused = null;
  });

  /* Each re-check re-draws the variables list (the kind or event fields may have changed it): a
     keyboard user tabbing through it keeps their place. */
  var variable = null;
  body.addEventListener("htmx:beforeSwap", function (e) {
    var active = document.activeElement;
    if (e.detail.target && e.detail.target.id === "template-check" && active && active.closest("#variables")) {
      variable = active.getAttribute("aria-label");
    }
  });
  body.addEventListener("htmx:afterSettle", function () {
    if (!variable) return;
    document.querySelectorAll("#variables [data-insert]").forEach(function (button) {
      if (button.getAttribute("aria-label") === variable) button.focus();
    });
    variable = null;
  });

  /* A brand profile the server refused comes back with a summary of what to change: read it first. */
  body.addEventListener("htmx:afterSettle", function (e) {
    var path = e.detail.pathInfo && e.detail.pathInfo.requestPath;
    var summary = document.getElementById("brand-errors");
    if (summary && path === "/console/brand") summary.focus();
  });
})();
