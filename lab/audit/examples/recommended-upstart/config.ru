# The lab's demo app for Ruby unicorn: it answers exactly like phoenix's built-in demo app
# (src/demo-app.ts), with the same JSON fields and x-phoenix-* headers, so the lab's load
# generator, timelines and verdicts read unicorn runs the same way they read phoenix runs.
#
#   /            {"pid","master","worker","generation","version"}
#   /health      ok
#   /slow?ms=N   answers after N ms (default 1000): a request in flight across an upgrade
#   /block?ms=N  keeps the worker busy N ms (default 60000): what unicorn's `timeout` is for
#   /crash       the worker dies mid-request (exit!), no answer, as a segfault would
#
# Plain Ruby 1.8.7 syntax on purpose (hash rockets, lambda, no JSON library), so the same file
# runs on Ubuntu 12.04's Ruby 1.8/1.9 with unicorn 4 and on Debian 12's Ruby 3.1 with unicorn 6.
# Header names are lowercase because Rack 3 requires it; Rack 1.x accepts them as they are.

# Read once, when the app loads (in the master with preload_app, else in each worker), so a
# new master generation shows new code from disk and an old one keeps what it loaded.
DEMO_VERSION = begin
  file = ENV['DEMO_VERSION_FILE']
  file && !file.empty? ? File.read(file).strip : (ENV['DEMO_VERSION'] || '1')
rescue SystemCallError
  ENV['DEMO_VERSION'] || '1'
end

def demo_json_string(s)
  '"' + s.to_s.gsub(/[\\"]/) { |c| '\\' + c }.gsub(/[\x00-\x1f]/) { |c| format('\\u%04x', c.unpack('C')[0]) } + '"'
end

def demo_ms(env, fallback)
  m = /(?:\A|&)ms=(\d+)/.match(env['QUERY_STRING'].to_s)
  m ? [m[1].to_i, 600_000].min : fallback
end

run lambda { |env|
  # The generation counts up across USR2 re-execs (unicorn.rb's before_exec); the worker
  # slot is set by its after_fork. Without that config: generation 1, worker -1.
  generation = (ENV['UNICORN_GENERATION'] || '1').to_i
  worker = (ENV['UNICORN_WORKER_NR'] || '-1').to_i
  who = '"pid":' + Process.pid.to_s + ',"master":' + Process.ppid.to_s + ',"worker":' + worker.to_s +
        ',"generation":' + generation.to_s + ',"version":' + demo_json_string(DEMO_VERSION)
  headers = lambda { |type|
    { 'content-type' => type, 'x-phoenix-pid' => Process.pid.to_s,
      'x-phoenix-generation' => generation.to_s, 'x-phoenix-worker' => worker.to_s }
  }
  case env['PATH_INFO']
  when '/'
    [200, headers.call('application/json'), ['{' + who + "}\n"]]
  when '/health'
    [200, headers.call('text/plain'), ["ok\n"]]
  when '/slow'
    ms = demo_ms(env, 1000)
    sleep(ms / 1000.0)
    [200, headers.call('application/json'), ['{' + who + ',"slept":' + ms.to_s + "}\n"]]
  when '/block'
    # Busy, not asleep: a worker stuck in one request, which the master's timeout kills.
    ms = demo_ms(env, 60_000)
    until_t = Time.now + ms / 1000.0
    nil while Time.now < until_t
    [200, headers.call('application/json'), ['{' + who + "}\n"]]
  when '/crash'
    # No answer and no cleanup, as a segfault or an OOM kill: the master reaps and replaces.
    exit!(1)
  else
    [404, headers.call('application/json'),
     ['{"error":"not found","path":' + demo_json_string(env['PATH_INFO']) + "}\n"]]
  end
}
