// What the page's own upload forms share (assets/model_upload.js, assets/set_upload.js; this file is
// loaded before them, Dash loads assets by name): building elements, and building a form once its
// place (rendered by Dash at any time) appears in the page.
window.saliencyUploads = (function () {
    function element(tag, attributes, text) {
        var node = document.createElement(tag);
        Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
        if (text) { node.textContent = text; }
        return node;
    }

    function whenShown(id, build) {
        function look() {
            var place = document.getElementById(id);
            if (place && !place.dataset.built) { place.dataset.built = "1"; build(place); }
        }
        new MutationObserver(look).observe(document.documentElement, {childList: true, subtree: true});
        document.addEventListener("DOMContentLoaded", look);
    }

    return {element: element, whenShown: whenShown};
})();
