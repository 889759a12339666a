# The fix for unicorn under symlinked releases (Capistrano's /srv/app/current), appended to
# the lab's unicorn.rb by the unicorn-symlinked-releases scenario. Why it exists: without it,
# a USR2 re-executes unicorn in the release it was first started in (the resolved path, as
# neither upstart's `chdir` nor systemd's WorkingDirectory= sets PWD to the link), with the
# BUNDLE_GEMFILE `bundle exec` resolved then; new code is never loaded, and once that release
# is pruned the re-exec fails. Plain Ruby 1.8.7 syntax, as unicorn.rb.

# The link, not where it points today: unicorn chdirs here before each re-exec
# (START_CTX[:cwd]), so the new master loads the release the link names at that moment.
working_directory '/srv/app/current'

before_exec do |server|
  # Replaces unicorn.rb's hook, so it counts the generation as that one does.
  ENV['UNICORN_GENERATION'] = (ENV['UNICORN_GENERATION'].to_i + 1).to_s
  # What `bundle exec` resolved when the first master started (releases/X/Gemfile) would
  # follow every re-exec otherwise; the link's Gemfile is the new release's.
  ENV['BUNDLE_GEMFILE'] = '/srv/app/current/Gemfile'
end
