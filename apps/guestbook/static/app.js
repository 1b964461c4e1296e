// guestbook: the characters left in the message box, counted as the
// server counts them (Unicode scalar values). The page works without it.
(function () {
  "use strict";
  var box = document.getElementById("message");
  var out = document.getElementById("counter");
  if (!box || !out) return;
  var max = parseInt(box.getAttribute("maxlength"), 10) || 2000;
  function update() {
    var used = Array.from(box.value.replace(/\r\n/g, "\n")).length;
    var left = max - used;
    out.textContent = left + (left === 1 ? " character left" : " characters left");
    out.classList.toggle("low", left < 100);
    out.classList.toggle("over", left < 0);
  }
  box.addEventListener("input", update);
  update();
})();
