// A character count under every limited text box, so the browser's maxlength never cuts a paste silently
// and a text over the limit (shown again after a refusal) says what to do.
document.querySelectorAll("textarea[maxlength]").forEach(function (box) {
  var limit = Number(box.getAttribute("maxlength"));
  var counter = document.createElement("small");
  counter.className = "counter";
  counter.id = box.id + "-count";
  counter.setAttribute("aria-live", "polite");
  box.setAttribute("aria-describedby", counter.id);
  box.insertAdjacentElement("afterend", counter);
  function update() {
    var used = box.value.length;  // as maxlength counts: UTF-16 units, a line break is one
    var text = used.toLocaleString("en") + " of " + limit.toLocaleString("en") + " characters";
    if (used > limit) text += ": over the limit, shorten it before submitting";
    else if (used === limit) text += ": the limit; text beyond it is not added";
    counter.textContent = text;
    counter.classList.toggle("full", used >= limit);
  }
  box.addEventListener("input", update);
  update();
});
