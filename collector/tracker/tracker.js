// Minimal first version: pageviews only. (Expanded: SPA, clicks, downloads, engagement.)
(function () {
  var script = document.currentScript
  var domain = script.getAttribute('data-domain')
  var endpoint = script.getAttribute('data-api') || new URL(script.src).origin + '/api/event'
  function send(name) {
    var body = JSON.stringify({ n: name, u: location.href, d: domain, r: document.referrer || null, w: window.innerWidth })
    if (navigator.sendBeacon) navigator.sendBeacon(endpoint, body)
    else fetch(endpoint, { method: 'POST', body: body, keepalive: true })
  }
  send('pageview')
})()
