"""The consent center: the subject's own page to see, withdraw and switch off (C-08, A-01).

`links` seals expiring per-subject links, `view` gathers what the page shows,
`labels` says it in plain Chinese and `page` renders it as HTML; the routes are
in `governance.api.routes.center`.
"""
