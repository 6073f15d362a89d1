# bash completion for mailout (and sendmail/mailq when they are mailout).
# Install: copy to /usr/share/bash-completion/completions/mailout

_mailout_accounts()
{
	local f files=()
	if [[ -n ${MAILOUT_CONFIG-} ]]; then
		files=("$MAILOUT_CONFIG")
	else
		files=(/etc/mailout.conf /usr/local/etc/mailout.conf
		       "${XDG_CONFIG_HOME:-$HOME/.config}/mailout/config")
	fi
	for f in "${files[@]}"; do
		[[ -r $f ]] && sed -n 's/^[[:space:]]*account[[:space:]]*"\([^"]*\)".*/\1/p' "$f"
	done
}

_mailout()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	--account)
		COMPREPLY=($(compgen -W "$(_mailout_accounts)" -- "$cur")); return ;;
	--tls)
		COMPREPLY=($(compgen -W "starttls smtps off" -- "$cur")); return ;;
	--queue)
		COMPREPLY=($(compgen -W "never onfail always" -- "$cur")); return ;;
	-a|--attach|-C|-X)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--passwordeval)
		COMPREPLY=($(compgen -c -- "$cur")); return ;;
	-s|--subject|--host|--port|--user|-f|-r|-F|--from|--cc|--bcc|-N|-R|-V|-B|-h|-L|-O)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "--account --attach --bcc --cc --dry-run --flush --from
			--help --host --list-queue --passwordeval --port --queue --read-envelope-from
			--serverinfo --show-config --subject --tls --user --version
			-t -i -oi -f -r -F -N -R -V -v -C -X -bm -bp -bs -bi -q -s -a" -- "$cur"))
	fi
}
complete -F _mailout -o default mailout
