// The number box beside each slider (Dash 4) applies its value only when it loses focus; a person who
// types a number expects Enter to apply it too. Enter here leaves and re-enters the box, which applies it.
(function () {
    document.addEventListener("keydown", function (event) {
        var box = event.target;
        if (event.key !== "Enter" || !box || !box.classList || !box.classList.contains("dash-range-slider-input")) {
            return;
        }
        event.preventDefault();
        box.blur();
        box.focus();
    }, true);
})();
