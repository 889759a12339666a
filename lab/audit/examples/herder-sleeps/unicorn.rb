# The team's unicorn.rb behind the herder: no before_fork QUIT, the herder QUITs the old
# master itself once its fixed reload wait is over.
worker_processes 4
pid "/var/run/unicorn/unicorn.pid"
timeout 30
preload_app true
