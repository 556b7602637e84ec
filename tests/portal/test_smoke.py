def test_home_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_dashboard_per_role(client_for, inst_alice):
    response = client_for(inst_alice).get("/")
    assert response.status_code == 200
    assert "机构工作台" in response.content.decode()
