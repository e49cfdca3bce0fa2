"""The monthly self-check report (合规自查) over the audit trail and the consent ledger.

`build.build_report()` collects the figures (`figures.SelfCheckReport`) with
SQL aggregates; `page.render_html()` lays them out as one self-contained HTML
page with inline SVG charts, and `document.render_json()` as versioned JSON.
"""
