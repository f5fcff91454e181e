// writ workbench: small enhancements only; every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  // "Add another" for a list: copy the last row in the page instead of asking the server for the form again.
  function addRow(button) {
    var list = button.closest("fieldset.list");
    var key = list.getAttribute("data-list");
    var rows = list.querySelector("ol.rows");
    var last = rows.lastElementChild;
    var count = list.querySelector('input[type=hidden][name="' + key + '.n"]');
    if (!last || !count) { return false; }
    var index = rows.children.length - 1;
    var next = index + 1;
    var namePart = key + "." + index, nameNext = key + "." + next;
    var idPart = "f-" + key.replace(/\./g, "-") + "-" + index, idNext = "f-" + key.replace(/\./g, "-") + "-" + next;
    var row = last.cloneNode(true);
    row.querySelectorAll(".error").forEach(function (e) { e.remove(); });
    row.querySelectorAll("[aria-invalid]").forEach(function (e) { e.removeAttribute("aria-invalid"); });
    row.querySelectorAll(".has-error").forEach(function (e) { e.classList.remove("has-error"); });
    row.querySelectorAll("*").forEach(function (e) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
        var v = e.getAttribute(attr);
        if (v) {
          v = v.split(namePart).join(nameNext).split(idPart).join(idNext).replace(/ \S+-error$/, "");
          e.setAttribute(attr, v);
        }
      });
      if (e.matches("input:not([type=hidden]), textarea")) { e.value = ""; }
      if (e.matches("select")) { e.selectedIndex = 0; }
    });
    row.querySelectorAll("label, legend").forEach(function (e) {
      e.childNodes.forEach(function (n) {
        if (n.nodeType === 3) { n.textContent = n.textContent.replace("item " + (index + 1), "item " + (next + 1)); }
      });
    });
    row.querySelectorAll(".hint code").forEach(function (e) {
      e.textContent = e.textContent.replace("[" + index + "]", "[" + next + "]");
    });
    rows.appendChild(row);
    count.value = String(rows.children.length);
    var first = row.querySelector("input, select, textarea");
    if (first) { first.focus(); }
    return true;
  }

  // The edit page: check the draft as the author types (the same diagnostics as the Check button).
  function liveDiagnostics(form) {
    var url = form.getAttribute("data-diagnostics");
    var text = form.querySelector("#text"), file = form.querySelector("#file"), csrf = form.querySelector("[name=csrf]");
    var out = document.getElementById("diagnostics");
    var timer = null, asked = 0;
    function show(list) {
      out.textContent = "";
      var errors = list.filter(function (d) { return d.severity === "error"; }).length;
      var p = document.createElement("p");
      p.className = list.length ? "count" : "ok";
      p.textContent = list.length ? errors + " error(s), " + (list.length - errors) + " warning(s)" : "No errors and no warnings.";
      out.appendChild(p);
      list.forEach(function (d) {
        var pre = document.createElement("pre");
        pre.className = "diagnostic " + d.severity;
        pre.textContent = d.text;
        out.appendChild(pre);
      });
    }
    function check() {
      var mine = ++asked;
      var body = new URLSearchParams({ csrf: csrf.value, file: file.value, text: text.value });
      fetch(url, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (mine !== asked) { return; }
          if (data.diagnostics) { show(data.diagnostics); }
          else if (data.errors) { out.textContent = data.errors.map(function (e) { return e.message; }).join("; "); }
        })
        .catch(function () { /* the Check button still works */ });
    }
    text.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 400); });
    file.addEventListener("change", check);
  }

  ready(function () {
    document.querySelectorAll("button.add").forEach(function (button) {
      button.addEventListener("click", function (event) { if (addRow(button)) { event.preventDefault(); } });
    });
    document.querySelectorAll(".js-print").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
    var problems = document.getElementById("problems");
    if (problems) { problems.focus(); }
    var editor = document.getElementById("editor");
    if (editor) { liveDiagnostics(editor); }
  });
})();
