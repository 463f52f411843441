// Progressive enhancement: a "Copy" button beside every snippet. The page works without it.
(function () {
  "use strict";
  function announce(text) {
    var region = document.getElementById("announce");
    if (region) { region.textContent = ""; window.setTimeout(function () { region.textContent = text; }, 50); }
  }
  function addButton(code) {
    if (!navigator.clipboard) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    var label = code.closest("figure") && code.closest("figure").querySelector("figcaption");
    button.setAttribute("aria-label", "Copy " + (label ? label.textContent.trim() : "snippet"));
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(code.textContent).then(function () {
        button.textContent = "Copied";
        announce("Copied to the clipboard");
        window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
      }, function () { announce("Could not copy; select the text instead"); });
    });
    code.parentNode.parentNode.insertBefore(button, code.parentNode);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("pre > code[data-snippet]").forEach(addButton);
  });
})();
