// dsr's one script: starts nhsuk-frontend's enhancements (the header's menu,
// error summary focus, …). Pages work without it; the Content-Security-Policy
// forbids inline script, so this lives in its own file.
import { initAll } from './nhsuk-frontend.min.js'

document.body.classList.add('nhsuk-frontend-supported')
initAll()
