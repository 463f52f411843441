"""The web interface's routes. Fixed paths go before the index routes (``/search`` is not an
index); project pages go after every other route of an index, so the Simple API, files, JSON
API and uploads keep their URLs."""

from __future__ import annotations

from starlette.routing import Route

from stilton.web.ui import account, admin_page, api_docs, assets, home, project_page, search_page

GET_HEAD = ["GET", "HEAD"]
POST = ["POST"]


def fixed_routes() -> list[Route]:
    return [
        Route("/", home.home, methods=GET_HEAD),
        Route("/static/{version}/{name}", assets.static_file, methods=GET_HEAD),
        Route("/favicon.ico", assets.favicon, methods=GET_HEAD),
        Route("/robots.txt", assets.robots, methods=GET_HEAD),
        Route("/search", search_page.search, methods=GET_HEAD),
        Route("/-/login", account.login_form, methods=GET_HEAD),
        Route("/-/login", account.login, methods=POST),
        Route("/-/logout", account.logout, methods=POST),
        Route("/-/tokens", account.tokens, methods=GET_HEAD),
        Route("/-/tokens", account.create_token, methods=POST),
        Route("/-/tokens/{token_id}/revoke", account.revoke_token, methods=POST),
        Route("/-/admin", admin_page.admin, methods=GET_HEAD),
        Route("/api/docs", api_docs.api_docs, methods=GET_HEAD),
    ]


def project_routes() -> list[Route]:
    page = project_page.project
    return [
        Route("/{index}//{project}", project_page.flit_project, methods=GET_HEAD),
        Route("/{index}//{project}/", project_page.flit_project, methods=GET_HEAD),
        Route("/{index}/{project}/", page, methods=GET_HEAD),
        Route("/{index}/{project}", page, methods=GET_HEAD),
        Route("/{index}/{project}/{version}/", page, methods=GET_HEAD),
        Route("/{index}/{project}/{version}", page, methods=GET_HEAD),
    ]
