// Copy buttons: a button with data-copy="ID" copies the text of element ID. Without
// JavaScript the buttons stay hidden and the value is plain selectable text.
"use strict";
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var target = document.getElementById(button.getAttribute("data-copy"));
  if (!target || !navigator.clipboard) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(target.textContent.trim()).then(function () {
      button.textContent = "Copied";
    }, function () {
      button.textContent = "Select and copy by hand";
    });
  });
});

// Drop zones: dropping a file on an element with data-drop-into="ID" puts it into the file
// input ID, ready to submit. Without JavaScript the file picker does the same.
document.querySelectorAll("[data-drop-into]").forEach(function (zone) {
  var input = document.getElementById(zone.getAttribute("data-drop-into"));
  if (!input || typeof DataTransfer === "undefined") {
    return;
  }
  zone.classList.add("droppable");
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () {
      zone.classList.remove("dragging");
    });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (!files || files.length === 0) {
      return;
    }
    var picked = new DataTransfer();
    picked.items.add(files[0]);
    input.files = picked.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });
});
