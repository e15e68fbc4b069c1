/* Campaign pages: the confirmation dialog of hx-confirm actions (pause, resume, cancel, schedule)
   and focus after the A/B arms are redrawn. Plain JS, no build step; HTMX does the requests. */
(function () {
  "use strict";
  if (window.relaisCampaigns) return;  // HX-Location swaps re-run this file: listen once
  window.relaisCampaigns = true;
  var body = document.body;
  var pending = null;
  var opener = null;
  /* The button and question a "Yes" was given to when the review redrew that button meanwhile. */
  var answered = null;

  /* hx-confirm opens the page's <dialog> instead of window.confirm; "No" is focused first. */
  body.addEventListener("htmx:confirm", function (e) {
    var dialog = document.getElementById("confirm-dialog");
    if (!e.detail.question || !dialog || typeof dialog.showModal !== "function") return;
    e.preventDefault();
    var yes = answered;
    answered = null;
    if (yes && e.detail.elt.id === yes.id && e.detail.question === yes.question) {
      e.detail.issueRequest(true);  // the redrawn button asks what was answered: go
      return;
    }
    pending = e.detail;
    opener = e.detail.elt;
    document.getElementById("confirm-question").textContent = e.detail.question;
    dialog.showModal();
    document.getElementById("confirm-no").focus();
  });
  body.addEventListener("click", function (e) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || !dialog.open) return;
    if (e.target.id === "confirm-yes") {
      var go = pending;
      pending = null;
      dialog.close();
      if (!go) return;
      if (body.contains(go.elt)) {
        go.issueRequest(true);
        return;
      }
      /* The wizard's review redrew the button while the dialog was open (a field left by the click
         changed): HTMX sends nothing for a removed element, so "Yes" did nothing. Click the redrawn
         one; its question is asked again only if the review changed it (another recipient count). */
      var live = go.elt.id && document.getElementById(go.elt.id);
      if (live) {
        answered = {id: live.id, question: go.question};
        live.click();
      }
    } else if (e.target.id === "confirm-no") {
      pending = null;
      dialog.close();
    }
  });
  /* "close" does not bubble: listen in the capture phase; focus goes back to the button. */
  body.addEventListener("close", function (e) {
    if (e.target.id !== "confirm-dialog" || e.target.open) return;  // open: reopened with a new question
    pending = null;
    if (opener && document.body.contains(opener)) opener.focus();
  }, true);

  /* A refused save or confirm lists its problems at the top of the wizard: take the person there (the buttons are
     at the foot of a long page, where nothing seemed to happen). */
  body.addEventListener("wizard-refused", function () {
    var problems = document.getElementById("wizard-problems");
    if (!problems) return;
    problems.scrollIntoView({block: "start"});
    problems.focus({preventScroll: true});
  });

  /* Adding or removing an arm redraws them: give focus back to the same control (or "Add an arm"). */
  var focused = null;
  body.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "arms") focused = document.activeElement && document.activeElement.id;
  });
  body.addEventListener("htmx:afterSettle", function (e) {
    if (!e.detail.target || e.detail.target.id !== "arms") return;
    var again = (focused && document.getElementById(focused)) || document.getElementById("add-arm");
    if (again) again.focus();
    focused = null;
  });
})();
