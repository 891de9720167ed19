"""Going live and staying healthy: `doctor` checks a deployment the way the providers'
production checklists do (settings, database, credentials, numbers, webhook URLs, signing,
clock), and `configure` sets the providers up through their APIs instead of their dashboards.
Both read the providers through `providers.plivo.account` and `providers.vonage.account`.
"""
